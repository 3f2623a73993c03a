"""The operations of the local OSS, one small handler each, grouped by area (objects, multipart, listing, post,
process, bucket-level); :mod:`..routes` maps (method, level, sub-resource) to them.  Each handler is
``async (Backend, Call) -> Response``: it reads the request through the call and works through the backend's storage.
"""
