"""The local stack: a local OSS server (and, elsewhere, the trigger plumbing) so the function runs without the cloud.

Dev-only: never imported by the FC handler and excluded from the deployed bundle.
"""
