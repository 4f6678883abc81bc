"""S3-compatible storage through boto3 (MinIO in production). Imported lazily."""

from __future__ import annotations

from typing import Any


class S3Storage:
    """Objects in ``storage.s3_bucket``; public URLs when ``s3_public_base_url`` is set,
    presigned GET URLs (``presign_ttl_seconds``) otherwise."""

    def __init__(self, cfg: Any) -> None:
        import boto3
        from botocore.config import Config

        self.cfg = cfg
        self.bucket = cfg.s3_bucket
        self.client = boto3.client(
            "s3",
            endpoint_url=cfg.s3_endpoint_url,
            region_name=cfg.s3_region,
            aws_access_key_id=cfg.s3_access_key_id.get_secret_value() if cfg.s3_access_key_id else None,
            aws_secret_access_key=cfg.s3_secret_access_key.get_secret_value() if cfg.s3_secret_access_key else None,
            config=Config(signature_version="s3v4", s3={"addressing_style": "path"}, retries={"max_attempts": 3}),
        )

    def ensure_bucket(self) -> None:
        """Create the bucket if it does not exist (``toolbox doctor``-style setup, tests)."""
        from botocore.exceptions import ClientError

        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError:
            self.client.create_bucket(Bucket=self.bucket)

    def put(self, key: str, data: bytes, content_type: str) -> None:
        self.client.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType=content_type)

    def get(self, key: str) -> bytes:
        from botocore.exceptions import ClientError

        try:
            return self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except ClientError as exc:
            raise FileNotFoundError(key) from exc

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=key)

    def public_prefix(self) -> str | None:
        """The URL prefix of public objects; ``None`` when URLs are presigned per key."""
        return f"{self.cfg.s3_public_base_url.rstrip('/')}/" if self.cfg.s3_public_base_url else None

    def url(self, key: str) -> str:
        if self.cfg.s3_public_base_url:
            return f"{self.cfg.s3_public_base_url.rstrip('/')}/{key}"
        return self.client.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=self.cfg.presign_ttl_seconds
        )
