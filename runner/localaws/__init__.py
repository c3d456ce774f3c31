"""A local AWS for builds (`--aws local`): moto on the host, reached through an HTTPS proxy.

Build containers get only environment variables (dummy credentials, the proxy, the
region) and moto's CA file, mounted read-only: a buildspec that calls the AWS CLI runs
unchanged. One process per project (state directory) holds the AWS state in memory.
"""
