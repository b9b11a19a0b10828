"""Presigned S3 URLs: clients move artifact bytes straight to and from S3.

A ``lineal server`` whose blob store is S3 hands clients URLs signed with its own credentials
(botocore signs locally, no request is sent): a PUT to a staging key, and a GET of the blob's
key. The bytes never pass through the server.

Integrity: the PUT URL signs the ``x-amz-checksum-sha256`` header, so S3 refuses bytes whose
SHA-256 is not the digest the client declared and the header cannot be left out or changed.
The upload lands at a staging key (``<prefix>/uploads/<id>/direct``), never at the blob's
content-addressed key: completing it checks the stored object (size, and the checksum S3 kept;
S3-compatible servers that keep none, such as moto, cost a read of the object by the server),
then copies it into place inside S3. A staging object never completed is an upload-session
leftover that ``lineal gc`` removes.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
from functools import cached_property
from typing import Any

from ...errors import IntegrityError
from ..base import BlobInfo
from .local import split_digest
from .remote import ENV_S3_ENDPOINT, FsspecBlobStore, raise_backend_error
from .uploads import FsspecUploads

__all__ = ["MAX_SINGLE_PUT", "S3Presigner", "presigner"]

MAX_SINGLE_PUT = 5 * 1000**3
"""S3's largest single PUT (5 GB): larger uploads go through the server's upload sessions."""
EXPIRES = 3600
_READ = 4 * 1024 * 1024


def presigner(blobs: object) -> S3Presigner | None:
    """The presigner of an S3 blob store, None for any other store."""
    if isinstance(blobs, FsspecBlobStore) and blobs.protocol in ("s3", "s3a"):
        return S3Presigner(blobs)
    return None


def checksum_of(digest: str) -> str:
    """``x-amz-checksum-sha256`` of ``digest``: the base64 of the 32 bytes."""
    return base64.b64encode(bytes.fromhex(split_digest(digest))).decode()


class S3Presigner:
    def __init__(self, store: FsspecBlobStore) -> None:
        self.store = store
        self.bucket, _, self.prefix = store.key_root.partition("/")

    @cached_property
    def client(self) -> Any:
        """A plain botocore client (s3fs's is asynchronous); used only to sign."""
        import botocore.session
        from botocore.config import Config

        session = botocore.session.get_session()
        return session.create_client(
            "s3", endpoint_url=os.environ.get(ENV_S3_ENDPOINT) or None,
            region_name=os.environ.get("AWS_DEFAULT_REGION") or os.environ.get("AWS_REGION")
            or "us-east-1",
            config=Config(signature_version="s3v4"))

    def _key(self, path: str) -> str:
        return path.removeprefix(self.bucket + "/")

    def staging(self, upload_id: str) -> str:
        return f"{FsspecUploads(self.store).folder(upload_id)}/direct"

    def upload(self, upload_id: str, digest: str) -> dict[str, Any]:
        """The URL and headers of a PUT of the blob's bytes to the session's staging key."""
        checksum = checksum_of(digest)
        try:
            url = self.client.generate_presigned_url(
                "put_object", ExpiresIn=EXPIRES,
                Params={"Bucket": self.bucket, "Key": self._key(self.staging(upload_id)),
                        "ChecksumSHA256": checksum})
        except Exception as exc:
            raise_backend_error(exc, "cannot sign an upload URL")
        return {"method": "PUT", "url": url, "expires_in": EXPIRES,
                "headers": {"x-amz-checksum-sha256": checksum}}

    def download(self, digest: str) -> str:
        """A URL that GETs the blob's bytes (``Range`` requests work on it)."""
        try:
            url: str = self.client.generate_presigned_url(
                "get_object", ExpiresIn=EXPIRES,
                Params={"Bucket": self.bucket,
                        "Key": self._key(self.store.uri(digest).split("://", 1)[1])})
        except Exception as exc:
            raise_backend_error(exc, "cannot sign a download URL")
        return url

    def finish(self, upload_id: str, digest: str, size: int) -> BlobInfo:
        """Check the staged object and copy it to the blob's key; IntegrityError (staged
        object removed, nothing published) if it is not ``size`` bytes hashing to ``digest``."""
        staged = self.staging(upload_id)
        fs = self.store.fs
        try:
            head = fs.call_s3("head_object", Bucket=self.bucket, Key=self._key(staged),
                              ChecksumMode="ENABLED")
        except FileNotFoundError:
            from .uploads import _gone

            raise _gone(upload_id) from None
        except Exception as exc:
            raise_backend_error(exc, f"cannot read upload {upload_id}")
        try:
            if int(head["ContentLength"]) != size:
                raise IntegrityError(f"upload {upload_id} holds {head['ContentLength']} bytes, "
                                     f"not {size}", hint="send it again")
            kept = head.get("ChecksumSHA256")
            if kept is None:
                self._hash(staged, digest)  # the store keeps no checksum: read it
            elif kept != checksum_of(digest):
                raise IntegrityError(f"upload {upload_id} has checksum {kept}, not that of "
                                     f"{digest}", hint="send it again")
            created = not self.store.reuse(digest)
            if created:
                fs.copy(staged, self.store.uri(digest).split("://", 1)[1])
        except Exception as exc:
            with contextlib.suppress(Exception):
                fs.rm(FsspecUploads(self.store).folder(upload_id), recursive=True)
            if isinstance(exc, IntegrityError):
                raise
            raise_backend_error(exc, f"cannot publish upload {upload_id}")
        with contextlib.suppress(Exception):
            fs.rm(FsspecUploads(self.store).folder(upload_id), recursive=True)
        return BlobInfo(digest, size, self.store.uri(digest), created)

    def _hash(self, path: str, digest: str) -> None:
        sha = hashlib.sha256()
        with self.store.fs.open(path, "rb") as stream:
            while chunk := stream.read(_READ):
                sha.update(chunk)
        if "sha256:" + sha.hexdigest() != digest:
            raise IntegrityError(f"the uploaded bytes hash to sha256:{sha.hexdigest()}, "
                                 f"not {digest}", hint="the upload was damaged: send it again")
