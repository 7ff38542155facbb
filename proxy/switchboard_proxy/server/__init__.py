"""The sidecar's HTTP surface (aiohttp): model APIs, operations endpoints, error rendering. Glue only:
parsing and rendering here, decisions in `routing`, upstream I/O in `execution`.
"""
