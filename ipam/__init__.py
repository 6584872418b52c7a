"""IPAM service: the closest parent prefix of every row of ``prefixes.db``, as JSON."""
