import sys

from studio.engine.entry import main

sys.exit(main())
