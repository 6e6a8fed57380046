"""``python -m studio.tasks.grpo preview CONFIG``: the reward preview (``studio.tasks.grpo.preview``)."""

import sys

from studio.tasks.grpo.preview import main

args = sys.argv[1:]
if args[:1] == ["preview"]:
    args = args[1:]
sys.exit(main(args))
