"""Option schema of the ``file`` collector."""

from __future__ import annotations

import codecs
from typing import Literal

from pydantic import field_validator, model_validator

from ....options import Bytes, Duration, Field, PluginOptions, StrList
from ...common.multiline import MULTILINE_HELP, MultilineOptions


class FileOptions(PluginOptions):
    path: StrList = Field(
        default_factory=list, description="glob or list of globs of the files to read (** allowed)"
    )
    exclude: StrList = Field(
        default_factory=list, description="globs of paths to leave out (e.g. *.gz, *.1)"
    )
    scan_interval: Duration = Field(5.0, description="how often the globs are expanded again")
    poll_interval: Duration = Field(
        0.25, description="how often an idle file is checked for growth, truncation, rotation"
    )
    inotify: bool = Field(
        True, description="wake discovery and idle files on inotify events (polling remains)"
    )
    start_position: Literal["end", "beginning"] = Field(
        "end",
        description="where files present at the very first start are read from (later: start)",
    )
    close_inactive: Duration = Field(
        300.0, description="close a file at its end after this long without growth"
    )
    format: Literal["text", "json", "cri", "docker-json"] = Field(
        "text",
        description="json: a line that is a JSON object becomes message + fields (as tcp's "
        "format: json); others are kept and tagged _jsonparsefailure; cri / docker-json: "
        "container log files (time, stream, partial lines joined, pod metadata from the path)",
    )
    partial_timeout: Duration = Field(
        5.0,
        description="cri / docker-json: a partial line not completed for this long is sent, "
        "tagged _partial",
    )
    max_line_bytes: Bytes = Field(
        "1MiB", description="longer lines (or multiline messages) are cut and tagged _truncated"
    )
    encoding: str = Field(
        "utf-8", description="text encoding (ASCII-compatible; invalid bytes are replaced)"
    )
    read_bytes: Bytes = Field("1MiB", description="bytes read from a file at once")
    fingerprint_bytes: Bytes = Field(
        1024, description="leading bytes hashed into the file identity (with device and inode)"
    )
    multiline: MultilineOptions | None = Field(None, description=MULTILINE_HELP)
    drain_timeout: Duration = Field(
        10.0, description="at stop, wait this long for in-flight lines before the checkpoint"
    )

    @field_validator("encoding")
    @classmethod
    def _ascii_compatible(cls, v: str) -> str:
        try:
            info = codecs.lookup(v)
        except LookupError as exc:
            raise ValueError(f"unknown encoding {v!r}") from exc
        if "\n".encode(info.name) != b"\n" or "a".encode(info.name) != b"a":
            raise ValueError(f"encoding {v!r} is not ASCII-compatible (utf-16/32 are not read)")
        return info.name

    @model_validator(mode="after")
    def _needs_path(self) -> FileOptions:
        if not self.path:
            raise ValueError("path: at least one glob is required")
        if self.fingerprint_bytes < 16:
            raise ValueError("fingerprint-bytes: at least 16")
        return self
