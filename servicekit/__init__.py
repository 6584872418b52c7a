"""What both services run, written once: the scheduler daemon, a run's log line and heartbeat,
the command line, read-only SQLite, atomic file writes, and the two shell scripts
(``healthcheck.sh``, ``run-as-owner.sh``).

docker-compose.yml mounts this folder read-only into both containers, beside each service's own
folder; on the host it is a package of the checkout like ``collector`` and ``ipam``.
"""
