#!/usr/bin/env python3
"""Drives ftpx's SFTP front end with paramiko, for e2e/sftp_paramiko_test.go.

Reads its settings as JSON on stdin: host, port, user, password, data (a
local file), order (the offsets of its 32 KiB chunks, in the order to write
them), reads ([offset, length] pairs). Writes one JSON object on stdout:
what each step got, with the SFTP status code of every refusal, so that
the Go test makes every assertion. It asserts nothing itself.
"""

import base64
import hashlib
import json
import sys

import paramiko
from paramiko import sftp as sftpconst


class Status(IOError):
    """A refusal, with the status code the server sent."""

    def __init__(self, code, text):
        super().__init__(text)
        self.code = code
        self.text = text


def convert_status(self, msg):
    # paramiko's own, keeping the code: EOF stays EOFError, which its
    # read loops rely on.
    code = msg.get_int()
    text = msg.get_text()
    if code == sftpconst.SFTP_OK:
        return
    if code == sftpconst.SFTP_EOF:
        raise EOFError(text)
    raise Status(code, text)


paramiko.SFTPClient._convert_status = convert_status


def attempt(fn):
    """Runs fn and says how it went: ok (and its value), or the refusal."""
    try:
        value = fn()
        return {"ok": True, "value": value}
    except Status as e:
        return {"ok": False, "code": e.code, "msg": e.text}
    except (IOError, OSError, EOFError) as e:
        return {"ok": False, "code": None, "msg": repr(e)}


def md5(b):
    return hashlib.md5(b).hexdigest()


def main():
    cfg = json.load(sys.stdin)
    out = {}
    transport = paramiko.Transport((cfg["host"], cfg["port"]))
    transport.connect(username=cfg["user"], password=cfg["password"])
    key = transport.get_remote_server_key()
    digest = base64.b64encode(hashlib.sha256(key.asbytes()).digest()).decode().rstrip("=")
    out["host_key"] = "SHA256:" + digest
    out["key_type"] = key.get_name()
    sftp = paramiko.SFTPClient.from_transport(transport)

    # Out-of-order writes: each chunk at its offset, in the shuffled
    # order, one acknowledged write at a time.
    with open(cfg["data"], "rb") as f:
        data = f.read()
    chunk = 32 << 10

    def write_shuffled():
        f = sftp.open("/ooo.bin", "wb")
        f.set_pipelined(False)
        for off in cfg["order"]:
            f.seek(off)
            f.write(data[off:off + chunk])
        f.close()
        return len(cfg["order"])

    out["write"] = attempt(write_shuffled)
    out["stat"] = attempt(lambda: sftp.stat("/ooo.bin").st_size)

    def read_at():
        f = sftp.open("/ooo.bin", "rb")
        sums = []
        for off, n in cfg["reads"]:
            f.seek(off)
            sums.append(md5(f.read(n)))
        f.seek(len(data) + 10)
        past = f.read(10)
        vsums = [md5(b) for b in f.readv([tuple(r) for r in cfg["reads"]])]
        f.close()
        return {"seek_read": sums, "readv": vsums, "past_end": len(past)}

    out["read"] = attempt(read_at)
    out["list"] = attempt(lambda: sorted([a.filename, a.st_size] for a in sftp.listdir_attr("/")))
    out["rename"] = attempt(lambda: sftp.rename("/ooo.bin", "/renamed.bin"))
    out["stat_old_name"] = attempt(lambda: sftp.stat("/ooo.bin").st_size)
    out["stat_new_name"] = attempt(lambda: sftp.stat("/renamed.bin").st_size)

    def put(name, body):
        f = sftp.open(name, "wb")
        f.write(body)
        f.close()

    put("/other.txt", b"other\n")
    put("/victim.txt", b"victim\n")
    put("/mover.txt", b"mover\n")
    sftp.mkdir("/d")

    def write_dir():
        f = sftp.open("/d", "wb")
        f.write(b"into a directory\n")
        f.close()

    odd = {}
    odd["open_dir_for_writing"] = attempt(write_dir)
    odd["rmdir_file"] = attempt(lambda: sftp.rmdir("/renamed.bin"))
    odd["remove_dir"] = attempt(lambda: sftp.remove("/d"))
    odd["mkdir_existing_dir"] = attempt(lambda: sftp.mkdir("/d"))
    odd["mkdir_existing_file"] = attempt(lambda: sftp.mkdir("/renamed.bin"))
    odd["setstat_smaller_size"] = attempt(lambda: sftp.truncate("/renamed.bin", 100))
    odd["setstat_larger_size"] = attempt(lambda: sftp.truncate("/renamed.bin", len(data) + 1))
    odd["setstat_same_size"] = attempt(lambda: sftp.truncate("/renamed.bin", len(data)))
    odd["rename_onto_existing"] = attempt(lambda: sftp.rename("/other.txt", "/victim.txt"))
    odd["posix_rename_onto_existing"] = attempt(lambda: sftp.posix_rename("/mover.txt", "/victim.txt"))
    odd["symlink"] = attempt(lambda: sftp.symlink("/renamed.bin", "/link"))
    odd["readlink"] = attempt(lambda: sftp.readlink("/renamed.bin"))
    odd["open_missing"] = attempt(lambda: sftp.open("/missing.txt", "rb").close())
    odd["stat_missing"] = attempt(lambda: sftp.stat("/missing.txt").st_size)
    odd["rmdir_missing"] = attempt(lambda: sftp.rmdir("/missing"))
    odd["remove_missing"] = attempt(lambda: sftp.remove("/d/missing.txt"))
    odd["listdir_file"] = attempt(lambda: sftp.listdir("/renamed.bin"))
    odd["chmod"] = attempt(lambda: sftp.chmod("/renamed.bin", 0o600))
    odd["utime"] = attempt(lambda: sftp.utime("/renamed.bin", (1234567890, 1234567890)))
    odd["stat_after_utime"] = attempt(lambda: sftp.stat("/renamed.bin").st_mtime)
    out["odd"] = odd
    out["final_list"] = attempt(lambda: sorted(sftp.listdir("/")))

    sftp.close()
    transport.close()
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
