"""The server side of a studio: what the page and the CLI share while runs come and go.

- ``runs``       the run store: run folders, starting, stopping, adopting runs after a restart
- ``user_runs``  the runs as one signed-in person sees them (their own; all for an admin)
- ``scheduler``  the fair queue and the device slots runs wait for
- ``users``      password users and join codes, with stable account ids
- ``policy``     the operator's limits on a shared studio
- ``settings``   the studio's settings from the environment and a settings file

May import ``studio.launchers``, ``studio.tasks``, ``studio.data`` and ``studio.core``; never the CLI or UI.
"""
