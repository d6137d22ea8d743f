"""The BlobStore contract (blobs/base.py), run against files on disk and S3 (moto)."""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from evalhub.blobs import BlobStore
from evalhub.blobs.files import FileBlobStore
from evalhub.blobs.s3 import S3BlobStore
from evalhub.errors import InvalidRequest, NotFound

KEY = "results/req-1/job-0/results.json"
ESCAPES = ["../outside.json", "results/../../outside.json", "/etc/passwd", "", "a//b", "./a", "a\\..\\b"]


@pytest.fixture(params=["files", "s3"])
def blobs(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BlobStore]:
    if request.param == "files":
        yield FileBlobStore(tmp_path / "results")
    else:
        yield S3BlobStore(request.getfixturevalue("s3_bucket"), prefix="hub")


def open_link(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return bytes(resp.read())


def test_what_is_put_reads_back_and_its_link_opens(blobs: BlobStore) -> None:
    # Given results written at a key
    uri = blobs.put(KEY, b'{"acc": 0.5}')
    # Then they read back, the URI names the key, and the link opens to the same bytes
    assert blobs.get(KEY) == b'{"acc": 0.5}'
    assert uri.startswith(("file://", "s3://")) and uri.endswith(KEY)
    assert open_link(blobs.link(KEY, expires_seconds=60)) == b'{"acc": 0.5}'


def test_a_second_put_replaces_the_first(blobs: BlobStore) -> None:
    blobs.put(KEY, b"old")
    blobs.put(KEY, b"new", content_type="text/plain")
    assert blobs.get(KEY) == b"new"


def test_reading_a_key_never_written_is_not_found(blobs: BlobStore) -> None:
    blobs.put(KEY, b"{}")
    for key in ("results/other.json", "results"):
        with pytest.raises(NotFound):
            blobs.get(key)


@pytest.mark.parametrize("key", ESCAPES)
def test_keys_that_could_leave_the_store_are_refused(blobs: BlobStore, key: str) -> None:
    with pytest.raises(InvalidRequest):
        blobs.put(key, b"x")
    with pytest.raises(InvalidRequest):
        blobs.get(key)
    with pytest.raises(InvalidRequest):
        blobs.link(key)


def test_files_refuse_a_symlink_that_leads_out_of_the_root(tmp_path: Path) -> None:
    # Given a link inside the root that points outside it
    root, outside = tmp_path / "results", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (root / "escape").symlink_to(outside, target_is_directory=True)
    store = FileBlobStore(root)
    # Then nothing can be written or read through it
    with pytest.raises(InvalidRequest):
        store.put("escape/x.json", b"x")
    assert list(outside.iterdir()) == []


def test_files_uri_points_at_the_file(tmp_path: Path) -> None:
    store = FileBlobStore(tmp_path / "results")
    uri = store.put(KEY, b"data")
    assert uri == (tmp_path / "results" / KEY).resolve().as_uri()
    assert store.link(KEY) == uri


def test_s3_keys_live_under_the_prefix(s3_bucket: str) -> None:
    store = S3BlobStore(s3_bucket, prefix="/hub/")
    assert store.put(KEY, b"data") == f"s3://{s3_bucket}/hub/{KEY}"
    assert S3BlobStore(s3_bucket).get(f"hub/{KEY}") == b"data"
