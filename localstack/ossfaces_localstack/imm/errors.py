"""IMM's error answer: HTTP status + the JSON body every Alibaba Cloud OpenAPI product returns.

``{"RequestId", "HostId", "Code", "Message", "Recommend"}`` (IMM "Error handling"), which the SDK turns into
``ClientException`` (4xx), ``ServerException`` (5xx) or ``ThrottlingException`` (with a retry-after header).
"""

from __future__ import annotations


class ImmError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message

    def body(self, request_id: str, host: str) -> dict[str, str]:
        return {
            "RequestId": request_id,
            "HostId": host,
            "Code": self.code,
            "Message": self.message,
            "Recommend": f"https://next.api.aliyun.com/troubleshoot?q={self.code}&product=imm",
        }


def project_not_found() -> ImmError:
    return ImmError(400, "ResourceNotFound", "The specified resource project is not found.")


def file_not_found() -> ImmError:
    return ImmError(400, "ResourceNotFound", "The specified resource file is not found.")


def invalid_argument(message: str) -> ImmError:
    return ImmError(400, "InvalidArgument", message)
