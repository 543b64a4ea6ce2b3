"""Glyph PBFs read as MapLibre reads them: the ``glyphs.proto`` of mapbox/glyph-pbf, parsed by
Google's protobuf runtime (not by the server's own encoder)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

_F = descriptor_pb2.FieldDescriptorProto


@lru_cache(maxsize=1)
def _glyphs_class() -> Any:
    """The ``llmr.glyphs.glyphs`` message class, built from the spec's field list."""
    proto = descriptor_pb2.FileDescriptorProto(
        name="glyphs.proto", package="llmr.glyphs", syntax="proto2"
    )
    glyph = proto.message_type.add(name="glyph")
    for name, number, kind, label in (
        ("id", 1, _F.TYPE_UINT32, _F.LABEL_REQUIRED),
        ("bitmap", 2, _F.TYPE_BYTES, _F.LABEL_OPTIONAL),
        ("width", 3, _F.TYPE_UINT32, _F.LABEL_REQUIRED),
        ("height", 4, _F.TYPE_UINT32, _F.LABEL_REQUIRED),
        ("left", 5, _F.TYPE_SINT32, _F.LABEL_REQUIRED),
        ("top", 6, _F.TYPE_SINT32, _F.LABEL_REQUIRED),
        ("advance", 7, _F.TYPE_UINT32, _F.LABEL_REQUIRED),
    ):
        glyph.field.add(name=name, number=number, type=kind, label=label)
    stack = proto.message_type.add(name="fontstack")
    stack.field.add(name="name", number=1, type=_F.TYPE_STRING, label=_F.LABEL_REQUIRED)
    stack.field.add(name="range", number=2, type=_F.TYPE_STRING, label=_F.LABEL_REQUIRED)
    stack.field.add(
        name="glyphs",
        number=3,
        type=_F.TYPE_MESSAGE,
        type_name=".llmr.glyphs.glyph",
        label=_F.LABEL_REPEATED,
    )
    glyphs = proto.message_type.add(name="glyphs")
    glyphs.field.add(
        name="stacks",
        number=1,
        type=_F.TYPE_MESSAGE,
        type_name=".llmr.glyphs.fontstack",
        label=_F.LABEL_REPEATED,
    )
    glyphs.extension_range.add(start=16, end=8192)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(proto)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("llmr.glyphs.glyphs"))


def read_glyphs(body: bytes) -> Any:
    """The ``glyphs`` message of a PBF (every required field present, or DecodeError)."""
    message = _glyphs_class()()
    message.ParseFromString(body)
    return message
