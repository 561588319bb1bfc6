"""``make bench``: seed a database of synthetic referrals and measure TrialScreen against the
physical limit of each job (PostgreSQL COPY, the /healthz round trip). See docs/performance.md.
"""
