"""What is live, shared through Redis so that several server processes act as one (CHECKIN_REDIS_URL).

Without that setting nothing here runs: the hub, presence and limits stay in the process. With it,
Redis holds only what can be rebuilt — the database stays the record — so Redis may be flushed or
restarted and every server puts back what it holds (see docs/DEPLOY.md, "Redis").
"""
