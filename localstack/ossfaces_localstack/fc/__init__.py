"""The local Function Compute: OSS triggers read from template.yml / s.yaml, FC's OSS event, async delivery with retries,
the function run in-process or through its custom-runtime bootstrap, and FC 2.0's invoke API for the ``fc2`` client.

Dev-only, like the rest of ``ossfaces_localstack``: the handler never imports it.
"""
