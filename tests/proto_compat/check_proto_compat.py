#!/usr/bin/env python3
"""Wire-compatibility check for cycas's own .proto files.

Our protocol definitions under proto/ are written by us, but they must stay
wire-compatible with the public specifications. This script proves it:

1. It compiles our files and an official copy of the Remote Execution API,
   google.rpc.Status and google.bytestream (Debian ships one with
   bazel-bootstrap-source) into descriptor sets with `protoc`.
2. For every message, enum and service defined in both, it checks that
   * every field present in both has the same number, type, label, type name
     and oneof membership, and no number is used by two different fields;
   * every field of the official message is present in ours (nothing dropped);
   * none of our fields uses a number the official copy reserves;
   * every enum value present in both has the same number, and no official
     value is missing;
   * every RPC we declare exists upstream with the same request/response types
     and streaming flags;
   * each type is declared in the same file path as upstream.
   Fields or values that only we have (newer than the official copy) are
   listed, not treated as errors.
3. It checks the zako protocol against the specification embedded below
   (there is no official copy of it on the machine).

Exit status: 0 when compatible, 1 on any mismatch or setup problem.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile

# --------------------------------------------------------------------------
# Descriptor loading
# --------------------------------------------------------------------------

TYPE_NAMES = {
    1: "double", 2: "float", 3: "int64", 4: "uint64", 5: "int32",
    6: "fixed64", 7: "fixed32", 8: "bool", 9: "string", 10: "group",
    11: "message", 12: "bytes", 13: "uint32", 14: "enum", 15: "sfixed32",
    16: "sfixed64", 17: "sint32", 18: "sint64",
}
LABEL_NAMES = {1: "optional", 2: "required", 3: "repeated"}


class Field:
    __slots__ = ("name", "number", "type", "label", "type_name", "oneof",
                 "proto3_optional")

    def __init__(self, name, number, type_, label, type_name, oneof,
                 proto3_optional):
        self.name = name
        self.number = number
        self.type = type_
        self.label = label
        self.type_name = type_name
        self.oneof = oneof
        self.proto3_optional = proto3_optional

    def describe(self):
        parts = []
        if self.proto3_optional:
            parts.append("optional")
        elif self.label != 1:
            parts.append(LABEL_NAMES.get(self.label, str(self.label)))
        parts.append(TYPE_NAMES.get(self.type, str(self.type)))
        if self.type_name:
            parts.append(self.type_name)
        parts.append("%s = %d" % (self.name, self.number))
        if self.oneof and not self.proto3_optional:
            parts.append("[oneof %s]" % self.oneof)
        return " ".join(parts)


class Model:
    """Flattened view of a descriptor set: full name -> definition."""

    def __init__(self):
        self.messages = {}   # name -> {"file", "fields": {name: Field}, "reserved": [(lo, hi)]}
        self.enums = {}      # name -> {"file", "values": {name: number}}
        self.services = {}   # name -> {"file", "methods": {name: (in, out, cs, ss)}}


def _add_enum(model, file_name, prefix, enum):
    model.enums[prefix + enum["name"]] = {
        "file": file_name,
        "values": {v["name"]: v["number"] for v in enum["values"]},
    }


def _add_message(model, file_name, prefix, msg):
    full = prefix + msg["name"]
    oneofs = msg["oneofs"]
    fields = {}
    for f in msg["fields"]:
        oneof = oneofs[f["oneof_index"]] if f["oneof_index"] is not None else ""
        fields[f["name"]] = Field(f["name"], f["number"], f["type"], f["label"],
                                  f["type_name"], oneof, f["proto3_optional"])
    model.messages[full] = {"file": file_name, "fields": fields,
                            "reserved": msg["reserved"]}
    for nested in msg["nested"]:
        _add_message(model, file_name, full + ".", nested)
    for enum in msg["enums"]:
        _add_enum(model, file_name, full + ".", enum)


def build_model(files):
    model = Model()
    for fd in files:
        prefix = fd["package"] + "." if fd["package"] else ""
        for msg in fd["messages"]:
            _add_message(model, fd["name"], prefix, msg)
        for enum in fd["enums"]:
            _add_enum(model, fd["name"], prefix, enum)
        for svc in fd["services"]:
            model.services[prefix + svc["name"]] = {
                "file": fd["name"],
                "methods": {m["name"]: (m["input_type"], m["output_type"],
                                        m["client_streaming"], m["server_streaming"])
                            for m in svc["methods"]},
            }
    return model


# -- Path 1: python3-protobuf ------------------------------------------------

def _from_pb_message(m):
    return {
        "name": m.name,
        "fields": [{
            "name": f.name, "number": f.number, "type": f.type, "label": f.label,
            "type_name": f.type_name,
            "oneof_index": f.oneof_index if f.HasField("oneof_index") else None,
            "proto3_optional": f.proto3_optional,
        } for f in m.field],
        "oneofs": [o.name for o in m.oneof_decl],
        "nested": [_from_pb_message(n) for n in m.nested_type],
        "enums": [_from_pb_enum(e) for e in m.enum_type],
        "reserved": [(r.start, r.end) for r in m.reserved_range],
    }


def _from_pb_enum(e):
    return {"name": e.name,
            "values": [{"name": v.name, "number": v.number} for v in e.value]}


def parse_with_library(data):
    from google.protobuf import descriptor_pb2  # noqa: may raise ImportError
    fds = descriptor_pb2.FileDescriptorSet()
    fds.ParseFromString(data)
    out = []
    for f in fds.file:
        out.append({
            "name": f.name, "package": f.package,
            "messages": [_from_pb_message(m) for m in f.message_type],
            "enums": [_from_pb_enum(e) for e in f.enum_type],
            "services": [{
                "name": s.name,
                "methods": [{"name": m.name, "input_type": m.input_type,
                             "output_type": m.output_type,
                             "client_streaming": m.client_streaming,
                             "server_streaming": m.server_streaming}
                            for m in s.method],
            } for s in f.service],
        })
    return out


# -- Path 2: a minimal wire-format decoder (no dependencies) ------------------
# Used when the interpreter running the test lacks python3-protobuf (e.g. a
# pyenv interpreter found first on PATH). It reads only the descriptor.proto
# fields this script needs.

def _varint(buf, pos):
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise ValueError("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7


def _fields(buf):
    """Yields (field_number, value) pairs; value is int or bytes."""
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        num, wt = key >> 3, key & 7
        if wt == 0:
            val, pos = _varint(buf, pos)
        elif wt == 1:
            val, pos = int.from_bytes(buf[pos:pos + 8], "little"), pos + 8
        elif wt == 2:
            ln, pos = _varint(buf, pos)
            val, pos = bytes(buf[pos:pos + ln]), pos + ln
        elif wt == 5:
            val, pos = int.from_bytes(buf[pos:pos + 4], "little"), pos + 4
        else:
            raise ValueError("unsupported wire type %d" % wt)
        yield num, val


def _int32(v):
    v &= 0xFFFFFFFFFFFFFFFF
    return v - (1 << 64) if v >= (1 << 63) else v


def _raw_enum(buf):
    e = {"name": "", "values": []}
    for n, v in _fields(buf):
        if n == 1:
            e["name"] = v.decode()
        elif n == 2:
            val = {"name": "", "number": 0}
            for n2, v2 in _fields(v):
                if n2 == 1:
                    val["name"] = v2.decode()
                elif n2 == 2:
                    val["number"] = _int32(v2)
            e["values"].append(val)
    return e


def _raw_field(buf):
    f = {"name": "", "number": 0, "type": 0, "label": 1, "type_name": "",
         "oneof_index": None, "proto3_optional": False}
    for n, v in _fields(buf):
        if n == 1:
            f["name"] = v.decode()
        elif n == 3:
            f["number"] = _int32(v)
        elif n == 4:
            f["label"] = v
        elif n == 5:
            f["type"] = v
        elif n == 6:
            f["type_name"] = v.decode()
        elif n == 9:
            f["oneof_index"] = _int32(v)
        elif n == 17:
            f["proto3_optional"] = bool(v)
    return f


def _raw_message(buf):
    m = {"name": "", "fields": [], "oneofs": [], "nested": [], "enums": [],
         "reserved": []}
    for n, v in _fields(buf):
        if n == 1:
            m["name"] = v.decode()
        elif n == 2:
            m["fields"].append(_raw_field(v))
        elif n == 3:
            m["nested"].append(_raw_message(v))
        elif n == 4:
            m["enums"].append(_raw_enum(v))
        elif n == 8:
            name = ""
            for n2, v2 in _fields(v):
                if n2 == 1:
                    name = v2.decode()
            m["oneofs"].append(name)
        elif n == 9:
            lo = hi = 0
            for n2, v2 in _fields(v):
                if n2 == 1:
                    lo = _int32(v2)
                elif n2 == 2:
                    hi = _int32(v2)
            m["reserved"].append((lo, hi))
    return m


def _raw_service(buf):
    s = {"name": "", "methods": []}
    for n, v in _fields(buf):
        if n == 1:
            s["name"] = v.decode()
        elif n == 2:
            m = {"name": "", "input_type": "", "output_type": "",
                 "client_streaming": False, "server_streaming": False}
            for n2, v2 in _fields(v):
                if n2 == 1:
                    m["name"] = v2.decode()
                elif n2 == 2:
                    m["input_type"] = v2.decode()
                elif n2 == 3:
                    m["output_type"] = v2.decode()
                elif n2 == 5:
                    m["client_streaming"] = bool(v2)
                elif n2 == 6:
                    m["server_streaming"] = bool(v2)
            s["methods"].append(m)
    return s


def parse_raw(data):
    out = []
    for n, v in _fields(data):
        if n != 1:
            continue
        fd = {"name": "", "package": "", "messages": [], "enums": [], "services": []}
        for n2, v2 in _fields(v):
            if n2 == 1:
                fd["name"] = v2.decode()
            elif n2 == 2:
                fd["package"] = v2.decode()
            elif n2 == 4:
                fd["messages"].append(_raw_message(v2))
            elif n2 == 5:
                fd["enums"].append(_raw_enum(v2))
            elif n2 == 6:
                fd["services"].append(_raw_service(v2))
        out.append(fd)
    return out


def parse_descriptor_set(data, force_raw=False):
    if not force_raw:
        try:
            return parse_with_library(data), "python3-protobuf"
        except ImportError:
            pass
    return parse_raw(data), "built-in decoder"


# --------------------------------------------------------------------------
# protoc
# --------------------------------------------------------------------------

def find_wkt_include(protoc, explicit):
    """Directory holding google/protobuf/any.proto, or None (then protoc's
    built-in default include path has to provide the well-known types)."""
    candidates = []
    if explicit:
        candidates.append(explicit)
    real = os.path.realpath(shutil.which(protoc) or protoc)
    candidates.append(os.path.join(os.path.dirname(os.path.dirname(real)), "include"))
    candidates += ["/usr/include", "/usr/local/include"]
    for c in candidates:
        if os.path.isfile(os.path.join(c, "google", "protobuf", "any.proto")):
            return c
    return None


def run_protoc(protoc, include_dirs, files, out_path):
    cmd = [protoc] + ["--proto_path=" + d for d in include_dirs] + [
        "--include_imports", "--descriptor_set_out=" + out_path] + files
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True)
    if proc.returncode != 0:
        raise RuntimeError("protoc failed (%s):\n%s" % (" ".join(cmd), proc.stderr))
    with open(out_path, "rb") as fh:
        return fh.read()


# --------------------------------------------------------------------------
# Comparison
# --------------------------------------------------------------------------

# Files whose definitions are compared against the official copy.
SHARED_FILES = [
    "build/bazel/remote/execution/v2/remote_execution.proto",
    "build/bazel/semver/semver.proto",
    "google/rpc/status.proto",
    "google/bytestream/bytestream.proto",
]

# Where those files live inside the official tree (relative to --official).
OFFICIAL_ROOTS = {
    "build/bazel/remote/execution/v2/remote_execution.proto": "remoteapis",
    "build/bazel/semver/semver.proto": "remoteapis",
    "google/rpc/status.proto": "googleapis",
    "google/bytestream/bytestream.proto": "googleapis",
}


# Fields upstream renamed after the official copy was taken. A rename keeps
# number and type, so it is wire-compatible; we follow the newer name.
# (message, official name) -> our name
UPSTREAM_RENAMES = {
    # remote-apis v2.3 renamed the repeated field to its plural form.
    ("build.bazel.remote.execution.v2.CacheCapabilities", "digest_function"):
        "digest_functions",
}


class Report:
    def __init__(self):
        self.errors = []
        self.notes = []
        self.counts = dict.fromkeys(
            ["messages", "fields", "enums", "enum_values", "services", "methods",
             "zako_messages", "zako_fields", "zako_enums", "zako_methods"], 0)

    def error(self, msg):
        self.errors.append(msg)

    def note(self, msg):
        self.notes.append(msg)


def compare(ours, official, rep):
    shared = set(SHARED_FILES)

    for name in sorted(n for n, m in ours.messages.items() if m["file"] in shared):
        mine = ours.messages[name]
        theirs = official.messages.get(name)
        if theirs is None:
            rep.note("message %s: not in the official copy (newer upstream?)" % name)
            continue
        rep.counts["messages"] += 1
        if mine["file"] != theirs["file"]:
            rep.error("message %s: declared in %s, upstream in %s"
                      % (name, mine["file"], theirs["file"]))
        mf = mine["fields"]
        tf = {UPSTREAM_RENAMES.get((name, n), n): f
              for n, f in theirs["fields"].items()}
        for fname in sorted(set(mf) & set(tf)):
            a, b = mf[fname], tf[fname]
            rep.counts["fields"] += 1
            if a.name != b.name:
                rep.note("%s.%s: renamed upstream from '%s' (wire-compatible)"
                         % (name, fname, b.name))
            for attr in ("number", "type", "label", "proto3_optional",
                         "type_name", "oneof"):
                if getattr(a, attr) != getattr(b, attr):
                    rep.error("%s.%s: %s differs\n    ours:     %s\n    official: %s"
                              % (name, fname, attr, a.describe(), b.describe()))
                    break
        for fname in sorted(set(tf) - set(mf)):
            rep.error("%s: official field missing from ours: %s"
                      % (name, tf[fname].describe()))
        by_number = {f.number: f for f in tf.values()}
        for fname in sorted(set(mf) - set(tf)):
            f = mf[fname]
            clash = by_number.get(f.number)
            if clash is not None:
                rep.error("%s: our field '%s' uses number %d, which is '%s' upstream"
                          % (name, fname, f.number, clash.name))
            elif any(lo <= f.number < hi for lo, hi in theirs["reserved"]):
                rep.error("%s: our field '%s' uses number %d, reserved upstream"
                          % (name, fname, f.number))
            else:
                rep.note("%s: field only in ours (newer upstream): %s"
                         % (name, f.describe()))

    for name in sorted(n for n, e in ours.enums.items() if e["file"] in shared):
        mine = ours.enums[name]
        theirs = official.enums.get(name)
        if theirs is None:
            rep.note("enum %s: not in the official copy (newer upstream?)" % name)
            continue
        rep.counts["enums"] += 1
        if mine["file"] != theirs["file"]:
            rep.error("enum %s: declared in %s, upstream in %s"
                      % (name, mine["file"], theirs["file"]))
        mv, tv = mine["values"], theirs["values"]
        for v in sorted(set(mv) & set(tv)):
            rep.counts["enum_values"] += 1
            if mv[v] != tv[v]:
                rep.error("%s.%s = %d, official %d" % (name, v, mv[v], tv[v]))
        for v in sorted(set(tv) - set(mv)):
            rep.error("%s: official value missing from ours: %s = %d" % (name, v, tv[v]))
        tnums = {n: v for v, n in tv.items()}
        for v in sorted(set(mv) - set(tv)):
            if mv[v] in tnums:
                rep.error("%s: our value %s = %d is %s upstream"
                          % (name, v, mv[v], tnums[mv[v]]))
            else:
                rep.note("%s: value only in ours (newer upstream): %s = %d"
                         % (name, v, mv[v]))

    for name in sorted(n for n, s in ours.services.items() if s["file"] in shared):
        mine = ours.services[name]
        theirs = official.services.get(name)
        if theirs is None:
            rep.error("service %s: does not exist upstream" % name)
            continue
        rep.counts["services"] += 1
        if mine["file"] != theirs["file"]:
            rep.error("service %s: declared in %s, upstream in %s"
                      % (name, mine["file"], theirs["file"]))
        for meth, sig in sorted(mine["methods"].items()):
            rep.counts["methods"] += 1
            up = theirs["methods"].get(meth)
            if up is None:
                rep.error("rpc %s.%s: does not exist upstream" % (name, meth))
            elif up != sig:
                rep.error("rpc %s.%s: signature differs\n    ours:     %s\n    official: %s"
                          % (name, meth, _sig(sig), _sig(up)))

    for name in sorted(n for n, m in official.messages.items()
                       if m["file"] in shared and n not in ours.messages):
        rep.note("official message not declared by us: %s" % name)


def _sig(sig):
    i, o, cs, ss = sig
    return "(%s%s) returns (%s%s)" % ("stream " if cs else "", i,
                                      "stream " if ss else "", o)


# --------------------------------------------------------------------------
# zako: the exact specification (no official copy exists on the machine)
# --------------------------------------------------------------------------
# Field spec: "<number> [repeated|optional] <type or .full.TypeName> [oneof=<name>]"

ZAKO_MESSAGES = {
    "zako.v1.digest.Digest": {
        "size_bytes": "1 uint64",
        "blake3": "2 bytes",
    },
    "zako.v1.range.BlobRange": {
        "start": "1 uint64",
        "length": "2 optional uint64",
    },
    "zako.v1.net.IpAddress": {
        "v4": "1 fixed32 oneof=ip_addr",
        "v6": "2 bytes oneof=ip_addr",
    },
    "zako.v1.net.SocketAddress": {
        "ip": "1 .zako.v1.net.IpAddress",
        "port": "2 uint32",
    },
    "zako.v1.cas.NegotiateBlobsRequest": {
        "blob_digests": "1 repeated .zako.v1.digest.Digest",
    },
    "zako.v1.cas.NegotiateBlobsResponse": {
        "missing_blob_digests": "1 repeated .zako.v1.digest.Digest",
    },
    "zako.v1.cas.GetTransportDetailsRequest": {
        "supported_protocols": "1 repeated enum:.zako.v1.net.Protocol",
    },
    "zako.v1.cas.TransportDetails": {
        "server_addr": "1 .zako.v1.net.SocketAddress",
        "auth_token": "2 string",
        "recommended_concurrency": "3 uint32",
    },
    "zako.v1.transport.BlobResource": {
        "digest": "1 .zako.v1.digest.Digest",
        "range": "2 .zako.v1.range.BlobRange",
    },
    "zako.v1.transport.DownloadRequest": {
        "metadata": "1 .zako.v1.transport.BlobResource",
    },
    "zako.v1.transport.DownloadResponse": {
        "data": "1 bytes",
    },
    "zako.v1.transport.UploadRequest": {
        "metadata": "1 .zako.v1.transport.BlobResource oneof=payload",
        "chunk": "2 bytes oneof=payload",
    },
    "zako.v1.transport.UploadResponse": {
        "committed_size": "1 uint64",
    },
}

ZAKO_ENUMS = {
    "zako.v1.net.Protocol": {"grpc": 0},
}

ZAKO_SERVICES = {
    "zako.v1.cas.ContentAddressableStorage": {
        "NegotiateBlobs": (".zako.v1.cas.NegotiateBlobsRequest",
                           ".zako.v1.cas.NegotiateBlobsResponse", True, True),
        "GetTransportDetails": (".zako.v1.cas.GetTransportDetailsRequest",
                                ".zako.v1.cas.TransportDetails", False, False),
    },
    "zako.v1.transport.Transport": {
        "Download": (".zako.v1.transport.DownloadRequest",
                     ".zako.v1.transport.DownloadResponse", False, True),
        "Upload": (".zako.v1.transport.UploadRequest",
                   ".zako.v1.transport.UploadResponse", True, False),
    },
}

_TYPE_BY_NAME = {v: k for k, v in TYPE_NAMES.items()}


def _parse_spec(name, spec):
    words = spec.split()
    number = int(words.pop(0))
    label, p3opt, oneof = 1, False, ""
    if words[0] == "repeated":
        label = 3
        words.pop(0)
    elif words[0] == "optional":
        p3opt = True
        oneof = "_" + name  # protoc's synthetic oneof for proto3 optional
        words.pop(0)
    t = words.pop(0)
    if t.startswith("enum:"):
        type_, type_name = 14, t[len("enum:"):]
    elif t.startswith("."):
        type_, type_name = 11, t
    else:
        type_, type_name = _TYPE_BY_NAME[t], ""
    for w in words:
        if w.startswith("oneof="):
            oneof = w[len("oneof="):]
    return Field(name, number, type_, label, type_name, oneof, p3opt)


def check_zako(ours, rep):
    for msg, spec in sorted(ZAKO_MESSAGES.items()):
        got = ours.messages.get(msg)
        if got is None:
            rep.error("zako: message %s is missing" % msg)
            continue
        rep.counts["zako_messages"] += 1
        for fname, fspec in sorted(spec.items()):
            want = _parse_spec(fname, fspec)
            have = got["fields"].get(fname)
            rep.counts["zako_fields"] += 1
            if have is None:
                rep.error("zako: %s.%s is missing (want %s)" % (msg, fname, want.describe()))
                continue
            for attr in ("number", "type", "label", "proto3_optional",
                         "type_name", "oneof"):
                if getattr(have, attr) != getattr(want, attr):
                    rep.error("zako: %s.%s: %s differs\n    ours: %s\n    spec: %s"
                              % (msg, fname, attr, have.describe(), want.describe()))
                    break
        for fname in sorted(set(got["fields"]) - set(spec)):
            rep.error("zako: %s has field '%s' that is not in the spec" % (msg, fname))
    for enum, values in sorted(ZAKO_ENUMS.items()):
        got = ours.enums.get(enum)
        if got is None:
            rep.error("zako: enum %s is missing" % enum)
            continue
        rep.counts["zako_enums"] += 1
        if got["values"] != values:
            rep.error("zako: enum %s is %s, spec %s" % (enum, got["values"], values))
    for svc, methods in sorted(ZAKO_SERVICES.items()):
        got = ours.services.get(svc)
        if got is None:
            rep.error("zako: service %s is missing" % svc)
            continue
        for meth, sig in sorted(methods.items()):
            rep.counts["zako_methods"] += 1
            have = got["methods"].get(meth)
            if have != sig:
                rep.error("zako: rpc %s.%s is %s, spec %s"
                          % (svc, meth, _sig(have) if have else "missing", _sig(sig)))
        for meth in sorted(set(got["methods"]) - set(methods)):
            rep.error("zako: rpc %s.%s is not in the spec" % (svc, meth))
    known = set(ZAKO_MESSAGES) | set(ZAKO_ENUMS) | set(ZAKO_SERVICES)
    for name in sorted(set(ours.messages) | set(ours.enums) | set(ours.services)):
        if name.startswith("zako.") and name not in known:
            rep.error("zako: %s is not in the spec" % name)


# --------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--protoc", default="protoc", help="protoc executable")
    ap.add_argument("--ours", required=True, help="our proto/ directory")
    ap.add_argument("--official", required=True,
                    help="directory holding remoteapis/ and googleapis/ "
                         "(e.g. /usr/src/bazel-bootstrap/third_party)")
    ap.add_argument("--wkt-include", default=None,
                    help="directory holding google/protobuf/*.proto "
                         "(default: next to protoc, /usr/include)")
    ap.add_argument("--raw-decoder", action="store_true",
                    help="decode descriptors without python3-protobuf")
    ap.add_argument("-v", "--verbose", action="store_true",
                    help="list every note, not only errors")
    args = ap.parse_args()

    def fail(msg):
        print("proto_compat: FAIL: " + msg, file=sys.stderr)
        return 1

    if not (shutil.which(args.protoc) or os.access(args.protoc, os.X_OK)):
        return fail("protoc not found: %s" % args.protoc)
    if not os.path.isdir(args.ours):
        return fail("our proto directory does not exist: %s" % args.ours)
    missing = [os.path.join(args.official, OFFICIAL_ROOTS[f], f) for f in SHARED_FILES
               if not os.path.isfile(os.path.join(args.official, OFFICIAL_ROOTS[f], f))]
    if missing:
        return fail("official proto copy not found; missing:\n  %s\n"
                    "Install Debian's bazel-bootstrap-source package or pass "
                    "--official <dir containing remoteapis/ and googleapis/>."
                    % "\n  ".join(missing))

    wkt = find_wkt_include(args.protoc, args.wkt_include)
    extra = [wkt] if wkt else []

    our_files = sorted(
        os.path.relpath(os.path.join(dp, f), args.ours)
        for dp, _, fs in os.walk(args.ours) for f in fs if f.endswith(".proto"))
    for f in SHARED_FILES:
        if f not in our_files:
            return fail("our copy of %s is missing under %s" % (f, args.ours))

    official_roots = [os.path.join(args.official, "remoteapis"),
                      os.path.join(args.official, "googleapis")]
    with tempfile.TemporaryDirectory(prefix="proto_compat.") as tmp:
        try:
            ours_data = run_protoc(args.protoc, [args.ours] + extra, our_files,
                                   os.path.join(tmp, "ours.pb"))
            official_data = run_protoc(args.protoc, official_roots + extra,
                                       SHARED_FILES, os.path.join(tmp, "official.pb"))
        except RuntimeError as e:
            return fail(str(e))

    ours_files, how = parse_descriptor_set(ours_data, args.raw_decoder)
    official_files, _ = parse_descriptor_set(official_data, args.raw_decoder)
    ours = build_model(ours_files)
    official = build_model(official_files)

    rep = Report()
    compare(ours, official, rep)
    check_zako(ours, rep)

    c = rep.counts
    print("proto_compat: %d of our .proto files, official copy %s (descriptors via %s)"
          % (len(our_files), args.official, how))
    print("  REAPI/rpc/bytestream vs official: %d messages, %d fields, %d enums, "
          "%d enum values, %d services, %d rpcs compared"
          % (c["messages"], c["fields"], c["enums"], c["enum_values"],
             c["services"], c["methods"]))
    print("  zako vs spec: %d messages, %d fields, %d enums, %d rpcs checked"
          % (c["zako_messages"], c["zako_fields"], c["zako_enums"], c["zako_methods"]))
    newer = [n for n in rep.notes if "only in ours" in n or "not in the official" in n
             or "renamed upstream" in n]
    skipped = [n for n in rep.notes if n.startswith("official message not declared")]
    print("  newer than the official copy (ours only): %d; official messages we "
          "do not declare: %d" % (len(newer), len(skipped)))
    for n in (rep.notes if args.verbose else newer):
        print("    note: " + n)
    if rep.errors:
        print("proto_compat: FAIL: %d mismatch(es)" % len(rep.errors), file=sys.stderr)
        for e in rep.errors:
            print("  - " + e, file=sys.stderr)
        return 1
    print("proto_compat: OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
