"""The lines of Python that upload a photo to a running ``ossfaces up`` and wait for its result, the way a user's
code should: ``ossfaces up`` prints them and README shows them (a test runs README's copy against a running stack,
pasted into Python's prompt: hence the blank line that ends the loop).

The wait is the point. The trigger is asynchronous, on Alibaba Cloud as here: the upload returns as soon as OSS has
the photo, FC runs the function after that, and the result lands about half a second later. So the code asks with
HEAD until the result exists, and gives up after a bound instead of hanging on a result that will never come.
"""

from __future__ import annotations

import json

PHOTO = "me.jpg"
KEY = "photos/me.jpg"


def upload_snippet(endpoint: str, bucket: str, access_key_id: str, access_key_secret: str) -> str:
    """The snippet for a stack at ``endpoint`` serving ``bucket`` with these keys (``ossfaces up`` prints its own)."""
    q = json.dumps
    result = q(f"{KEY}.faces.json")
    return f"""import time

import oss2

auth = oss2.Auth({q(access_key_id)}, {q(access_key_secret)})
bucket = oss2.Bucket(auth, {q(endpoint)}, {q(bucket)})
upload = bucket.put_object_from_file({q(KEY)}, {q(PHOTO)})
# The trigger is asynchronous: the upload returns first, then the function runs and the result lands about 0.5 s
# later. Ask with HEAD until it is there, within a bound.
deadline = time.monotonic() + 30
while not bucket.object_exists({result}):
    if time.monotonic() > deadline:
        raise TimeoutError("no result after 30 s: is `ossfaces up` running? its log says why")
    time.sleep(0.2)

print(bucket.get_object({result}).read().decode())
"""
