#!/usr/bin/env python3
"""An independent check of hwledger's proofs, written from RFC 9162 and C2SP alone.

Reads JSON from stdin: {"cases": [case, ...]} where a case is one of

  {"kind": "inclusion", "seq": i, "size": n, "entry_hash": hex, "proof": [hex, ...],
   "checkpoint": "<signed note>"}
  {"kind": "consistency", "from": m, "to": n, "proof": [hex, ...],
   "checkpoint_from": "<signed note>", "checkpoint_to": "<signed note>"}

and writes a JSON array with one boolean per case: whether the proof verifies against the
root hash and size taken from the checkpoint note(s). The notes' signatures are not checked
(that needs Ed25519, beyond the standard library); their grammar is. Standard library only.
"""

import base64
import hashlib
import json
import sys


def leaf_hash(entry_hash):
    return hashlib.sha256(b"\x00" + entry_hash).digest()


def node_hash(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


class Bad(Exception):
    pass


def parse_note(note):
    """C2SP signed note holding a tlog-checkpoint: returns (origin, size, root)."""
    if any(ord(c) < 0x20 and c != "\n" for c in note):
        raise Bad("control character in note")
    split = note.rfind("\n\n")
    if split < 0:
        raise Bad("no blank line before the signatures")
    text, signatures = note[: split + 1], note[split + 2 :]
    if not signatures.endswith("\n") or signatures == "\n":
        raise Bad("signatures missing or not newline-terminated")
    for line in signatures[:-1].split("\n"):
        if not line.startswith("\u2014 "):
            raise Bad("signature line does not start with an em dash")
        name, _, blob = line[2:].partition(" ")
        if not name or "+" in name or " " in name:
            raise Bad("bad key name")
        raw = base64.b64decode(blob, validate=True)
        if len(raw) != 4 + 64:
            raise Bad("an Ed25519 signature line holds a 4-byte key ID and 64 bytes")
    lines = text[:-1].split("\n")
    if len(lines) != 3:
        raise Bad("a checkpoint body has exactly origin, size and root here")
    origin, size, root = lines
    if not origin or not size.isdigit() or (size != "0" and size.startswith("0")):
        raise Bad("bad origin or size")
    root = base64.b64decode(root, validate=True)
    if len(root) != 32:
        raise Bad("root is not 32 bytes")
    return origin, int(size), root


def verify_inclusion(index, size, leaf, proof, root):
    """RFC 9162 section 2.1.3.2."""
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn % 2 == 1 or fn == sn:
            r = node_hash(p, r)
            if fn % 2 == 0:
                while fn % 2 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(first, second, first_root, second_root, proof):
    """RFC 9162 section 2.1.4.2."""
    if first == 0 or first > second:
        return False
    if first == second:
        return len(proof) == 0 and first_root == second_root
    if len(proof) == 0:
        return False
    path = list(proof)
    # Step 2: if first is an exact power of 2, prepend first_hash to the path.
    if first & (first - 1) == 0:
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn % 2 == 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn % 2 == 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if fn % 2 == 0:
                while fn % 2 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == first_root and sr == second_root and sn == 0


def unhex(h):
    if len(h) != 64 or h != h.lower():
        raise Bad("a hash is 64 lowercase hex characters")
    return bytes.fromhex(h)


def check(case):
    proof = [unhex(h) for h in case["proof"]]
    if case["kind"] == "inclusion":
        _, size, root = parse_note(case["checkpoint"])
        if size != case["size"]:
            return False
        leaf = leaf_hash(unhex(case["entry_hash"]))
        return verify_inclusion(case["seq"], size, leaf, proof, root)
    if case["kind"] == "consistency":
        origin_m, m, root_m = parse_note(case["checkpoint_from"])
        origin_n, n, root_n = parse_note(case["checkpoint_to"])
        if origin_m != origin_n or m != case["from"] or n != case["to"]:
            return False
        return verify_consistency(m, n, root_m, root_n, proof)
    raise Bad("unknown kind " + repr(case["kind"]))


def main():
    cases = json.load(sys.stdin)["cases"]
    results = []
    for case in cases:
        try:
            results.append(bool(check(case)))
        except (Bad, ValueError, KeyError):
            results.append(False)
    json.dump(results, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
