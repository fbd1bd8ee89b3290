"""Cluster mode: several ``serve`` nodes on one PostgreSQL database (DESIGN.md, "Cluster mode").

This layer sits between ``store/`` and ``runtime/``: it may import ``store`` and ``domain``, and
``runtime``, ``gateway`` and ``cli`` may import it. It knows which node owns which auctions:

- `partitions` (pure): the stable hash of an auction id to one of a fixed number of partitions,
  and the fair share of partitions every live node computes alike;
- `schema`: the cluster's tables (migrations 10 and 11 of the PostgreSQL store);
- `membership`: the node table (registration, heartbeat, eviction of dead or paused nodes);
- `ownership`: one node's partitions, each held through a session-level advisory lock on a
  dedicated connection plus an epoch (fencing token) bumped on every takeover;
- `fence`: the `Fence` the PostgreSQL store calls inside every append's transaction, which
  refuses the append unless this node still holds the epoch of every partition it touches (and
  inside a reactor's writes, unless it still holds the reactor's role);
- `roles`: work one node does at a time (the notification reactors), held like partitions: an
  advisory lock on the lock connection plus an epoch (migration 11).
"""
