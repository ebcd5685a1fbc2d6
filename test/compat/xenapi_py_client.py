#!/usr/bin/env python3
"""Drives a poolstackd with Debian's unmodified XenAPI.py (XML-RPC, stdlib only) and prints one
JSON summary line for test/compat/xenapi-py.test.ts to assert on.

usage: xenapi_py_client.py XENAPI_PY URL PASSWORD

Exit codes: 0 = summary printed (assertions are the caller's job), 2 = XenAPI.py missing,
1 = any other failure (traceback on stderr, partial summary on stdout).
"""
import importlib.util
import json
import os
import sys
import time
import traceback
import xmlrpc.client


def load_xenapi(path):
    # Load the single file: importing the os_xenapi package would pull in oslo and pbr.
    spec = importlib.util.spec_from_file_location("XenAPI", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def main():
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        return 1
    xenapi_py, url, password = sys.argv[1:]
    if not os.path.isfile(xenapi_py):
        print("XenAPI.py not found at %s: install python3-os-xenapi" % xenapi_py, file=sys.stderr)
        return 2
    XenAPI = load_xenapi(xenapi_py)
    summary = {"python": sys.version.split()[0], "steps": []}

    def step(name):
        summary["steps"].append(name)

    try:
        session = XenAPI.Session(url)
        summary["api_version_before_login"] = session.API_version
        session.login_with_password("root", password, "2.21", "py-test")
        step("login")
        summary["api_version"] = session.API_version
        x = session.xenapi

        pool = x.pool.get_all()[0]
        master = x.pool.get_master(pool)
        summary["master_address"] = x.host.get_address(master)
        summary["session_this_host_is_master"] = x.session.get_this_host(session.handle) == master

        records = x.VM.get_all_records()
        step("VM.get_all_records")
        summary["vm_count"] = len(records)
        summary["vm_record_field_count"] = sorted(set(len(r) for r in records.values()))
        templates = [r["name_label"] for r in records.values() if r["is_a_template"]]
        summary["templates"] = sorted(templates)
        summary["control_domains"] = sum(1 for r in records.values() if r["is_control_domain"])
        any_rec = next(iter(records.values()))
        # int64 arrives as a bare XML-RPC string, bools as <boolean>, like xapi.
        summary["types"] = {
            "memory_static_max": type(any_rec["memory_static_max"]).__name__,
            "is_a_template": type(any_rec["is_a_template"]).__name__,
            "other_config": type(any_rec["other_config"]).__name__,
            "VBDs": type(any_rec["VBDs"]).__name__,
        }

        tpl = x.VM.get_by_name_label("Debian Bookworm 12")
        summary["template_matches"] = len(tpl)
        vm = x.VM.clone(tpl[0], "py-test vm")
        step("VM.clone")
        x.VM.provision(vm)
        step("VM.provision")
        x.VM.set_is_a_template(vm, False)
        summary["after_clone"] = {
            "name_label": x.VM.get_name_label(vm),
            "is_a_template": x.VM.get_is_a_template(vm),
            "power_state": x.VM.get_power_state(vm),
            "vbd_count": len(x.VM.get_VBDs(vm)),
        }

        t0 = time.monotonic()
        x.VM.start(vm, False, False)
        summary["start_ms"] = round((time.monotonic() - t0) * 1000)
        step("VM.start")
        summary["power_state_after_start"] = x.VM.get_power_state(vm)
        summary["resident_on_master"] = x.VM.get_resident_on(vm) == master

        try:
            x.VM.start(vm, False, False)
            summary["start_again"] = "no error"
        except XenAPI.Failure as f:
            summary["start_again"] = f.details
        step("VM.start again")

        x.VM.clean_shutdown(vm)
        step("VM.clean_shutdown")
        summary["power_state_after_shutdown"] = x.VM.get_power_state(vm)

        x.VM.set_name_label(vm, "py-test vm renamed")
        summary["renamed"] = x.VM.get_record(vm)["name_label"]

        # Int64 arguments: Python's xmlrpc.client cannot marshal ints above 2^31, so callers send
        # them as strings (xapi accepts both).
        x.VM.set_memory_limits(vm, "536870912", "1073741824", "1073741824", "1073741824")
        summary["memory_static_max_after_set"] = x.VM.get_memory_static_max(vm)

        x.VM.destroy(vm)
        step("VM.destroy")
        summary["vm_count_after_destroy"] = len(x.VM.get_all())

        old_ref = session.handle
        session.xenapi.session.logout()
        step("logout")
        summary["api_version_after_logout"] = session.API_version
        # The raw envelope for the dead session, through plain xmlrpc.client.
        raw = xmlrpc.client.ServerProxy(url)
        summary["after_logout"] = raw.VM.get_all(old_ref)
        summary["old_session_ref"] = old_ref
        print(json.dumps(summary))
        return 0
    except Exception:
        traceback.print_exc()
        summary["error"] = traceback.format_exc()
        print(json.dumps(summary))
        return 1


if __name__ == "__main__":
    sys.exit(main())
