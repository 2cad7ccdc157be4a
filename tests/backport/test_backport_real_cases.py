"""The shapes of the real cases in docs/backport-real-cases.md, rewritten as our own small C and mails
(no fetched code or mail text is stored here): each test names the case it stands for."""

from __future__ import annotations

import email.charset
import email.generator
import io
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from pathlib import Path

from bp_helpers import make_patch, rules, scenario, write
from rulecheck import clean, fires

from hvcheck.backport.cli import run_backport


def _pair_fn(name: str, extra: str = "") -> str:
    return (f"static int {name}(void *qp_data, int n)\n{{\n\tint i;\n\n\tfor (i = 0; i < n; i++) {{\n"
            f"\t\tstruct cookie *cookie = get_cookie(qp_data, i);\n{extra}\n\t\treq = build(cookie);\n"
            "\t\tif (dest)\n\t\t\tlen = set_data(req, cookie, src, dst);\n\t\telse\n\t\t\tlen = set_data(req, cookie, src, 0);\n"
            "\t\tif (unlikely(len < 0))\n\t\t\tbreak;\n\t}\n\treturn i;\n}\n\n")


def test_twin_enqueue_functions_dpdk_qat_shape(tmp_path: Path) -> None:
    """D1 (DPDK 22.11 crypto/qat): the aead and auth enqueue functions share every context line;
    the backport changed the auth one. Identical lines, so patch-id agrees; P001 on each block."""
    pre = _pair_fn("enqueue_aead_jobs") + _pair_fn("enqueue_auth_jobs")
    new = "\t\tint error = 0;\n"

    def change(text: str, which: str) -> str:
        at = text.index(f"static int {which}(")
        head, tail = text[:at], text[at:]
        tail = tail.replace("get_cookie(qp_data, i);\n", "get_cookie(qp_data, i);\n" + new, 1)
        tail = tail.replace("\t\t\tlen = set_data(req, cookie, src, dst);\n",
                            "\t\t\tlen = mid_set(&error, req, cookie, src, dst);\n", 1)
        tail = tail.replace("if (unlikely(len < 0))", "if (unlikely(len < 0) || error)", 1)
        return head + tail

    for trees in (False, True):
        result = scenario(tmp_path / str(trees), {"gen3.c": pre}, {"gen3.c": change(pre, "enqueue_aead_jobs")},
                          {"gen3.c": pre}, {"gen3.c": change(pre, "enqueue_auth_jobs")}, trees)
        hits = fires(result.findings, "P001")
        assert len(hits) == 3, rules(result)
        assert all("enqueue_aead_jobs()" in f.message and "enqueue_auth_jobs()" in f.message for f in hits)
        assert {f.data["confidence"] for f in hits} == ({"high"} if trees else {"low"})
    ok = scenario(tmp_path / "ok", {"gen3.c": pre}, {"gen3.c": change(pre, "enqueue_aead_jobs")},
                  {"gen3.c": pre}, {"gen3.c": change(pre, "enqueue_aead_jobs")})
    clean(ok.findings, "P001")


VHOST = ("int get_monitor_addr(int vid, int queue_id)\n{\n\tstruct virtio_net *dev = get_device(vid);\n"
         "\tstruct vhost_virtqueue *vq;\n\n\tif (dev == NULL)\n\t\treturn -1;\n\tvq = dev->virtqueue[queue_id];\n"
         "\tif (vq == NULL)\n\t\treturn -1;\n\n\tif (packed(dev))\n\t\tfill_packed(vq);\n\telse\n\t\tfill_split(vq);\n\n"
         "\treturn 0;\n}\n\n"
         "int vring_stats_reset(int vid, int queue_id)\n{\n\tstruct virtio_net *dev = get_device(vid);\n"
         "\tstruct vhost_virtqueue *vq;\n\n\tif (dev == NULL)\n\t\treturn -1;\n\treset(vq);\n\treturn 0;\n}\n")


def test_lock_backport_with_a_misplaced_declaration_dpdk_vhost_shape(tmp_path: Path) -> None:
    """D6 (DPDK vhost): `int ret = 0;` went into the next function with the same two leading
    lines, the lock was rewritten (trylock), and the success path lost its unlock. One P001, and the
    two rewritten blocks linked as P005 with their diffs (not missing + extra)."""
    up = VHOST.replace("\tstruct vhost_virtqueue *vq;\n\n\tif (dev == NULL)\n\t\treturn -1;\n\tvq =",
                       "\tstruct vhost_virtqueue *vq;\n\tint ret = 0;\n\n\tif (dev == NULL)\n\t\treturn -1;\n\tvq =", 1)
    up = up.replace("\t\treturn -1;\n\n\tif (packed(dev))", "\t\treturn -1;\n\n\trwlock_read_lock(&vq->access_lock);\n"
                    "\tif (unlikely(!vq->access_ok)) {\n\t\tret = -1;\n\t\tgoto out_unlock;\n\t}\n\n\tif (packed(dev))", 1)
    up = up.replace("\n\treturn 0;\n}\n\nint vring", "\nout_unlock:\n\trwlock_read_unlock(&vq->access_lock);\n\n"
                    "\treturn ret;\n}\n\nint vring", 1)
    bp = VHOST.replace("\t\treturn -1;\n\n\tif (packed(dev))", "\t\treturn -1;\n\n\tif (!spinlock_trylock(&vq->access_lock))\n"
                       "\t\treturn -1;\n\n\tif (unlikely(!vq->access_ok))\n\t\tgoto out_unlock;\n\n\tif (packed(dev))", 1)
    bp = bp.replace("\n\treturn 0;\n}\n\nint vring", "\n\treturn 0;\n\nout_unlock:\n\tspinlock_unlock(&vq->access_lock);\n\n"
                    "\treturn -1;\n}\n\nint vring", 1)
    bp = bp.replace("int vring_stats_reset(int vid, int queue_id)\n{\n\tstruct virtio_net *dev = get_device(vid);\n"
                    "\tstruct vhost_virtqueue *vq;\n", "int vring_stats_reset(int vid, int queue_id)\n{\n\tstruct virtio_net "
                    "*dev = get_device(vid);\n\tstruct vhost_virtqueue *vq;\n\tint ret = 0;\n", 1)
    result = scenario(tmp_path, {"vhost.c": VHOST}, {"vhost.c": up}, {"vhost.c": VHOST}, {"vhost.c": bp})
    p001 = fires(result.findings, "P001")
    assert len(p001) == 1 and "`int ret = 0;`" in p001[0].message and "vring_stats_reset()" in p001[0].message
    clean(result.findings, "P003")
    clean(result.findings, "P004")
    p005 = fires(result.findings, "P005")
    assert len(p005) == 2
    tail = next(f for f in p005 if "return 0" in "".join(f.data["diff"]))
    assert "--\treturn 0;" in tail.data["diff"]  # upstream removes it; the backport keeps it: no unlock on success


def test_a_change_to_a_file_the_older_tree_lacks_pairs_by_file_first_dpdk_cnxk_shape(tmp_path: Path) -> None:
    """DS6 (DPDK net/cnxk): upstream makes the same change to cn20k, cn10k and cn9k; the older
    tree has no cn20k. Identical blocks pair within their own file first: only cn20k is missing."""
    body = "static void prepare_tso(struct mbuf *m)\n{\n\tw1 = compute(m);\n\tw1->ol3type = old_type(m);\n}\n"
    post = body.replace("old_type(m)", "new_type(m)")
    files = ("cn20k_tx.h", "cn10k_tx.h", "cn9k_tx.h")
    up = make_patch(tmp_path, "up", {f: body for f in files}, {f: post for f in files})
    bp = make_patch(tmp_path, "bp", {f: body for f in files[1:]}, {f: post for f in files[1:]})
    result = run_backport(str(up), str(bp))
    clean(result.findings, "P001")
    p003 = fires(result.findings, "P003")
    assert [f.data["upstream"]["path"] for f in p003] == ["cn20k_tx.h"]


def test_struct_renamed_between_versions_is_not_a_misplacement_dpdk_mlx5_shape(tmp_path: Path) -> None:
    """DS4 (DPDK net/mlx5/hws): a member removed from a struct that the older tree names
    differently; same body, neither name on the other side: the same struct, no P001."""
    fields = "\tstruct devx_obj *pattern_obj;\n\tstruct icm_chunk *chunk;\n\tu8 *data;\n\tu16 num_actions;\n"
    up_pre = f"struct pattern_cache_item {{\n{fields}}};\n"
    bp_pre = f"struct pat_cached_pattern {{\n{fields}}};\n"
    drop = "\tstruct icm_chunk *chunk;\n"
    result = scenario(tmp_path, {"pat.c": up_pre}, {"pat.c": up_pre.replace(drop, "")},
                      {"pat.c": bp_pre}, {"pat.c": bp_pre.replace(drop, "")})
    clean(result.findings, "P001")
    assert any("type renamed between versions" in n for p in result.pairs for n in p.notes)


CPUSET = ("static int can_attach(struct taskset *tset)\n{\n\tint ret;\n\n\tmutex_lock(&cs_mutex);\n\tret = check(tset);\n"
          "\tif (ret)\n\t\tgoto out_unlock;\n\n\t/* Mark attach is in progress. */\n\tcs->attach_in_progress++;\nout_unlock:\n"
          "\tmutex_unlock(&cs_mutex);\n\treturn ret;\n}\n\n"
          "static int can_fork(struct task_struct *task)\n{\n\tint ret;\n\n\tmutex_lock(&cs_mutex);\n\tret = check_one(task);\n"
          "\tif (ret)\n\t\tgoto out_unlock;\n\n\t/* Mark attach is in progress. */\n\tcs->attach_in_progress++;\nout_unlock:\n"
          "\tmutex_unlock(&cs_mutex);\n\treturn ret;\n}\n")
FIX = "\tif (ret)\n\t\treset_dl_data(cs);\n"


def _flat(msg: MIMEText | MIMEMultipart) -> str:
    out = io.StringIO()
    email.generator.Generator(out, mangle_from_=False, maxheaderlen=0).flatten(msg)
    return out.getvalue()


def _cpuset_patches(tmp_path: Path) -> tuple[Path, str]:
    from bp_helpers import insert_after_nth

    up = make_patch(tmp_path, "up", {"cs.c": CPUSET}, {"cs.c": insert_after_nth(CPUSET, "out_unlock:\n", FIX, 0)})
    bp = make_patch(tmp_path, "bp", {"cs.c": CPUSET}, {"cs.c": insert_after_nth(CPUSET, "out_unlock:\n", FIX, 1)})
    return up, bp.read_text()


def test_reviewer_reply_quoting_the_backport_linux_cpuset_shape(tmp_path: Path) -> None:
    """L1 (Linux 6.1 stable, 2026): the reviewer's reply is multipart/signed, quoted-printable, quotes
    the backport with `> `, cuts part of it (`[...]`) and writes his comment between the hunk header
    and the rest of the hunk. It is a complete input: same P001 as the patch itself."""
    up, diff = _cpuset_patches(tmp_path)
    direct = run_backport(str(up), str(write(tmp_path / "bp-plain.patch", diff)))
    assert rules(direct) == ["P001"]
    lines = [("> " + ln).rstrip() if not ln.strip() else "> " + ln for ln in diff.split("\n")]
    hunk = next(i for i, ln in enumerate(lines) if ln.startswith("> @@"))
    lines[hunk + 1:hunk + 1] = ["", "In this backport the hunk is being applied to the wrong function!", "", "Ben.", ""]
    lines[1:3] = ["[...]"]  # the reviewer trimmed the index line
    body = "On Tue, Greg wrote:\n> review patch.  If anyone has any objections, please let me know.\n" + "\n".join(lines) \
        + "\n\n-- \nReviewer\n"
    cs = email.charset.Charset("utf-8")
    cs.body_encoding = email.charset.QP
    signed = MIMEMultipart("signed", protocol="application/pgp-signature", micalg="pgp-sha512")
    signed.attach(MIMEText(body, "plain", cs))
    signed.attach(MIMEApplication(b"-----BEGIN PGP SIGNATURE-----\n\nx\n-----END PGP SIGNATURE-----\n",
                                  "pgp-signature"))
    signed["Subject"] = "Re: [PATCH 6.1 431/522] cgroup/cpuset: reset DL state"
    reply = write(tmp_path / "reply.eml", _flat(signed))
    assert "=3D" in reply.read_text() or "=20" in reply.read_text()
    result = run_backport(str(up), str(reply))
    p001 = fires(result.findings, "P001")[0]
    assert "can_attach()" in p001.message and "can_fork()" in p001.message
    # the finding points into the reply, at the quoted `+\tif (ret)` line
    at = next(loc for loc in p001.locations if loc.path == str(reply))
    assert at.line is not None


def test_gmail_wrapped_headers_and_collapsed_tabs_linux_xpad_shape(tmp_path: Path) -> None:
    """L2 (Linux xpad fix, 2023, posted from gmail): each long @@ header wrapped after the first
    parameter, tabs collapsed to spaces, blank context lines empty. Read with the repairs reported."""
    up, diff = _cpuset_patches(tmp_path)
    mangled = []
    for ln in diff.split("\n"):
        if ln.startswith("@@ ") and "(" in ln:
            head, _, rest = ln.partition("(struct ")
            mangled += [head + "(struct", rest]
        elif ln[:1] in (" ", "+", "-") and not ln.startswith(("---", "+++")):
            mangled.append((ln[0] + " " + ln[1:].replace("\t", "").strip()) if ln[1:].strip() else "")
        else:
            mangled.append(ln)
    mail = "Subject: [PATCH] fix the reset\nContent-Type: text/plain; charset=\"UTF-8\"\n\n" + "\n".join(mangled)
    result = run_backport(str(up), str(write(tmp_path / "gmail.eml", mail)))
    fires(result.findings, "P001")
    repairs = fires(result.findings, "E001")
    assert any("wrapped onto the next line" in r for f in repairs for r in f.data.get("repairs", []))
    assert all(f.severity.label == "note" for f in repairs)


def test_stable_failed_mail_embeds_the_upstream_commit(tmp_path: Path) -> None:
    """L1's upstream input: a stable "FAILED: patch ... failed to apply" mail carries the upstream
    commit as a format-patch mail inside its body. It is read, and its own commit id is known."""
    up, diff = _cpuset_patches(tmp_path)
    sha = "4a39eda5fdd867fc39f3c039714dd432cee00268"
    mail = ("Subject: FAILED: patch \"[PATCH] reset DL state\" failed to apply to 6.6-stable tree\nFrom: <greg@example.org>\n"
            "\nThe patch below does not apply to the 6.6-stable tree.\n\n------------------ original commit in Linus's "
            f"tree ------------------\n\nFrom {sha} Mon Sep 17 00:00:00 2001\nFrom: A <a@example.org>\n"
            "Subject: [PATCH] reset DL state\n\n" + up.read_text())
    from hvcheck.backport.readers.patchfile import read_patch

    patch = read_patch("failed.eml", mail)
    assert [r.sha for m in patch.messages for r in m.refs if r.kind == "self"] == [sha]
    result = run_backport(str(write(tmp_path / "failed.eml", mail)), str(write(tmp_path / "bp.patch", diff)))
    fires(result.findings, "P001")


EAL_OLD = ("struct config internal_config;\n\nint eal_init(int argc, char **argv)\n{\n\tint ret;\n\n"
           "\tinternal_config.legacy_mem = true;\n\n\tif (plugins_init() < 0)\n\t\treturn -1;\n\treturn 0;\n}\n")
EAL_NEW = ("int eal_init(int argc, char **argv)\n{\n\tint ret;\n\tstruct config *internal_conf = get_config();\n\n"
           "\tinternal_conf->legacy_mem = true;\n\n\tif (plugins_init() < 0)\n\t\treturn -1;\n\treturn 0;\n}\n")
IN_MEMORY = ("\tif (internal_conf->in_memory) {\n\t\twarn(\"ignored\");\n\t\tinternal_conf->in_memory = false;\n\t}\n")


def _eal(bp_name: str) -> tuple[str, str, str, str]:
    up_after = EAL_NEW.replace("\t\treturn -1;\n\treturn 0;", "\t\treturn -1;\n" + IN_MEMORY + "\treturn 0;")
    bp_lines = IN_MEMORY.replace("internal_conf->", f"{bp_name}.")
    bp_after = EAL_OLD.replace("\t\treturn -1;\n\treturn 0;", "\t\treturn -1;\n" + bp_lines + "\treturn 0;")
    return EAL_NEW, up_after, EAL_OLD, bp_after


def test_upstream_local_name_copied_into_the_older_tree_is_p008_dpdk_eal_shape(tmp_path: Path) -> None:
    """D9 (DPDK eal/freebsd): the backport kept upstream's local `internal_conf` where the older
    function uses the global `internal_config`; the fix renamed it. Only the trees can tell."""
    up_pre, up_post, bp_pre, bp_post = _eal("internal_conf")
    result = scenario(tmp_path / "bad", {"eal.c": up_pre}, {"eal.c": up_post}, {"eal.c": bp_pre}, {"eal.c": bp_post})
    hit = fires(result.findings, "P008")
    assert len(hit) == 1 and hit[0].data["names"] == ["internal_conf"]
    assert "eal_init()" in hit[0].message and hit[0].severity.label == "warning"
    assert any(loc.path.endswith("eal.c") and loc.line for loc in hit[0].locations)
    # without trees nothing says which names are a function's own: no P008
    clean(scenario(tmp_path / "notrees", {"eal.c": up_pre}, {"eal.c": up_post}, {"eal.c": bp_pre},
                   {"eal.c": bp_post}, trees=False).findings, "P008")
    # the adapted backport (the fix's spelling) is clean
    up_pre, up_post, bp_pre, bp_post = _eal("internal_config")
    clean(scenario(tmp_path / "good", {"eal.c": up_pre}, {"eal.c": up_post}, {"eal.c": bp_pre},
                   {"eal.c": bp_post}).findings, "P008")


def test_name_only_in_a_comment_or_declared_by_the_backport_is_not_p008_xen_gnttab_shape(tmp_path: Path) -> None:
    """X3 (Xen gnttab test): upstream's `gnttab` is a local; the older function has `addr`. A
    multi-line comment naming `gnttab` is not a use; declaring it in the backport is fine."""
    old = "static void test(int domid)\n{\n\tvoid *addr = NULL;\n\tint rc;\n\n\trc = map(domid, &addr);\n\tcheck(rc);\n}\n"
    new = old.replace("\tvoid *addr = NULL;\n", "\tvoid *addr = NULL;\n\tstruct gnttab *gnttab;\n")
    use = "\t/*\n\t * status frames of gnttab v1\n\t */\n\trc = map_status(domid, (void **)&gnttab);\n"
    comment_only = "\t/*\n\t * status frames of gnttab v1\n\t */\n\trc = map_status(domid, &addr);\n"

    def run(sub: str, bp_add: str, bp_decl: str = "") -> list[str]:
        up_post = new.replace("\tcheck(rc);\n", "\tcheck(rc);\n" + use)
        bp_post = old.replace("\tint rc;\n", "\tint rc;\n" + bp_decl).replace("\tcheck(rc);\n", "\tcheck(rc);\n" + bp_add)
        res = scenario(tmp_path / sub, {"t.c": new}, {"t.c": up_post}, {"t.c": old}, {"t.c": bp_post})
        return [n for f in res.findings if f.rule == "P008" for n in f.data["names"]]

    assert run("verbatim", use) == ["gnttab"]
    assert run("comment", comment_only) == []
    assert run("declared", use, "\tstruct gnttab *gnttab;\n") == []
