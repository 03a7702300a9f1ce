"""The coding sandbox with real processes: languages, verdicts, limits, the test runner."""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from appliance.coding.judge import TestCase, judge, outputs_match
from appliance.coding.languages import LANGUAGES, available
from appliance.coding.model import Limits, Verdict
from appliance.coding.sandbox import MAX_SOURCE_BYTES, Sandbox

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the sandbox drops from root to a uid")

SUM = {
    "python": "import sys\nprint(sum(map(int, sys.stdin.read().split())))\n",
    "javascript": (
        "const d = require('fs').readFileSync(0, 'utf8').trim().split(/\\s+/).map(Number);\n"
        "console.log(d.reduce((a, b) => a + b, 0));\n"
    ),
    "java": (
        "import java.util.*;\npublic class Main { public static void main(String[] a) {\n"
        "Scanner s = new Scanner(System.in); long t = 0;\n"
        "while (s.hasNextLong()) t += s.nextLong(); System.out.println(t); } }\n"
    ),
    "c": (
        "#include <stdio.h>\nint main(void) { long x, t = 0;\n"
        'while (scanf("%ld", &x) == 1) t += x; printf("%ld\\n", t); return 0; }\n'
    ),
    "cpp": (
        "#include <iostream>\nint main() { long x, t = 0;\n"
        "while (std::cin >> x) t += x; std::cout << t << std::endl; }\n"
    ),
}
BROKEN = {
    "java": "public class Main { void f( }\n",
    "c": "int main(void) { return undefined_name; }\n",
    "cpp": "int main() { std::vector<int> v; }\n",
}
QUICK = Limits(cpu_s=2, wall_s=10)


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    made = Sandbox(tmp_path_factory.mktemp("data"))
    yield made
    shutil.rmtree(made.scratch, ignore_errors=True)  # the scratch root, empty by now


def test_python_is_always_there_and_the_box_says_which_others() -> None:
    langs = available()
    assert "python" in langs
    assert set(langs) <= set(LANGUAGES)
    print("languages on this box:", ", ".join(langs))


@pytest.mark.parametrize("language", sorted(SUM))
def test_each_language_reads_stdin_and_prints(sandbox: Sandbox, language: str) -> None:
    if language not in sandbox.languages():
        pytest.skip(f"no {language} toolchain on this box")
    result = sandbox.run_source(language, SUM[language], "1 2 3\n40\n", QUICK)
    assert result.verdict is Verdict.OK, (result.reason, result.stderr, result.stdout)
    assert result.stdout.strip() == "46"
    assert result.exit_code == 0 and result.signal is None
    assert 0 < result.wall_s < 10 and result.cpu_s >= 0 and result.peak_memory_bytes > 0


@pytest.mark.parametrize("language", sorted(BROKEN))
def test_a_compile_error_is_its_own_verdict(sandbox: Sandbox, language: str) -> None:
    if language not in sandbox.languages():
        pytest.skip(f"no {language} toolchain on this box")
    result = sandbox.run_source(language, BROKEN[language], "", QUICK)
    assert result.verdict is Verdict.COMPILE_ERROR
    assert "error" in result.stderr.lower() or "error" in result.stdout.lower()


def test_compiled_once_then_run_many_times(sandbox: Sandbox) -> None:
    language = next((name for name in ("c", "cpp", "java") if name in sandbox.languages()), None)
    if language is None:
        pytest.skip("no compiled language on this box")
    with sandbox.workspace(language, SUM[language]) as space:
        built = space.compile()
        assert built is not None and built.ok, built
        for values in ("1", "2 3", "-5 5 7"):
            run = space.run(values, QUICK)
            assert run.ok and int(run.stdout) == sum(map(int, values.split()))


def test_runtime_error_keeps_exit_status_and_stderr(sandbox: Sandbox) -> None:
    result = sandbox.run_source("python", "import sys\nprint('partial')\nsys.exit(3)\n", "", QUICK)
    assert result.verdict is Verdict.RUNTIME_ERROR
    assert result.exit_code == 3 and result.stdout == "partial\n"
    crashed = sandbox.run_source("python", "raise ValueError('boom')\n", "", QUICK)
    assert crashed.verdict is Verdict.RUNTIME_ERROR and "ValueError: boom" in crashed.stderr


def test_a_signal_is_reported(sandbox: Sandbox) -> None:
    result = sandbox.run_source("python", "import os\nos.abort()\n", "", QUICK)
    assert result.verdict is Verdict.RUNTIME_ERROR
    assert result.signal == 6 and result.exit_code is None and "SIGABRT" in result.reason


def test_output_over_the_limit_ends_the_run(sandbox: Sandbox) -> None:
    limits = Limits(cpu_s=5, wall_s=10, output_bytes=10_000)
    result = sandbox.run_source("python", "while True:\n    print('x' * 100)\n", "", limits)
    assert result.verdict is Verdict.OUTPUT_LIMIT
    assert result.stdout_truncated and len(result.stdout) == 10_000
    assert result.wall_s < 5


def test_stderr_is_truncated_but_the_run_goes_on(sandbox: Sandbox) -> None:
    source = "import sys\nfor _ in range(5000):\n    sys.stderr.write('e' * 100)\nprint('done')\n"
    result = sandbox.run_source("python", source, "", Limits(stderr_bytes=1000))
    assert result.verdict is Verdict.OK and result.stdout == "done\n"
    assert result.stderr_truncated and len(result.stderr) == 1000


def test_large_input_reaches_the_program(sandbox: Sandbox) -> None:
    numbers = " ".join(str(i) for i in range(200_000))
    result = sandbox.run_source("python", SUM["python"], numbers, QUICK)
    assert result.ok and int(result.stdout) == sum(range(200_000))


def test_the_program_runs_unprivileged_in_its_scratch(sandbox: Sandbox) -> None:
    source = (
        "import os\n"
        "status = dict(l.split(':', 1) for l in open('/proc/self/status') if ':' in l)\n"
        "print(os.getuid(), os.geteuid(), os.getgid(), os.getgroups())\n"
        "print(status['CapEff'].strip(), status['NoNewPrivs'].strip(), status['Seccomp'].strip())\n"
        "print(oct(os.stat('.').st_mode & 0o777), os.stat('.').st_uid == os.getuid())\n"
        "print(sorted(os.listdir('.')))\n"
        "print(sorted(k for k in os.environ))\n"
    )
    os.environ["APPLIANCE_PASSPHRASE"] = "must never reach a run"
    try:
        result = sandbox.run_source("python", source, "", QUICK)
    finally:
        del os.environ["APPLIANCE_PASSPHRASE"]
    assert result.ok, result.stderr
    ids, caps, mode, files, env = result.stdout.splitlines()
    uid = result.mechanisms.uid
    assert uid is not None and uid >= 1_000_000
    assert ids == f"{uid} {uid} {uid} []"
    assert caps == "0000000000000000 1 2"  # no capabilities, no new privileges, seccomp filter
    assert mode == "0o700 True"
    assert files == "['main.py']"
    assert "APPLIANCE_PASSPHRASE" not in env and "PYTHONPATH" not in env
    assert "VIRTUAL_ENV" not in env


def test_the_appliance_venv_and_site_packages_are_out_of_reach(sandbox: Sandbox) -> None:
    source = "import sys\nprint(sys.prefix)\nimport flask\n"
    result = sandbox.run_source("python", source, "", QUICK)
    assert result.verdict is Verdict.RUNTIME_ERROR
    assert "ModuleNotFoundError" in result.stderr
    assert ".venv" not in result.stdout


def test_the_scratch_is_private_to_a_submission_and_wiped(sandbox: Sandbox) -> None:
    writer = "open('note.txt', 'w').write('left behind')\nimport os\nprint(os.getcwd())\n"
    with sandbox.workspace("python", writer) as space:
        box = space.work.parent
        assert box.is_dir()
        assert space.run("", QUICK).ok
    assert not box.exists()
    reader = "import os\nprint(sorted(os.listdir('.')))\n"
    assert sandbox.run_source("python", reader, "", QUICK).stdout == "['main.py']\n"


def test_concurrent_runs_each_get_their_own_uid(sandbox: Sandbox) -> None:
    uids: list[int | None] = []
    barrier = threading.Barrier(4)

    def one() -> None:
        barrier.wait()
        result = sandbox.run_source("python", "import time\ntime.sleep(0.5)\n", "", QUICK)
        assert result.ok
        uids.append(result.mechanisms.uid)

    threads = [threading.Thread(target=one) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(uids) == 4 and len(set(uids)) == 4


def test_too_big_a_source_or_an_unknown_language_is_refused(sandbox: Sandbox) -> None:
    big = "#" * (MAX_SOURCE_BYTES + 1)
    assert sandbox.run_source("python", big, "", QUICK).verdict is Verdict.REFUSED
    with pytest.raises(ValueError, match="unknown language"):
        sandbox.run_source("cobol", "", "", QUICK)


def test_mechanisms_are_reported(sandbox: Sandbox) -> None:
    mechanisms = sandbox.mechanisms()
    print("mechanisms on this box:", ", ".join(mechanisms.active()))
    assert mechanisms.privilege_drop and mechanisms.no_new_privs and mechanisms.network_cut


def test_outputs_match_ignores_trailing_space_and_blank_lines() -> None:
    assert outputs_match("1 2 \n3\n\n", "1 2\n3")
    assert outputs_match("a\r\nb\r\n", "a\nb\n")
    assert not outputs_match("1 2\n3\n", "1 2 3\n")
    assert not outputs_match("", "0")


def test_judge_counts_visible_and_hidden_cases(sandbox: Sandbox) -> None:
    # Right except for negative numbers, which only the hidden cases have.
    source = (
        "import sys\n"
        "nums = [int(x) for x in sys.stdin.read().split()]\n"
        "print(sum(n for n in nums if n > 0))\n"
    )
    tests = [
        TestCase("1 2\n", "3\n", name="small"),
        TestCase("10 20 30\n", "60\n"),
        TestCase("-1 1\n", "0\n", hidden=True),
        TestCase("5\n", "5\n", hidden=True),
        TestCase("-5 -5\n", "-10\n", hidden=True),
    ]
    result = judge(sandbox, "python", source, tests, QUICK)
    assert (result.visible_passed, result.visible_total) == (2, 2)
    assert (result.hidden_passed, result.hidden_total) == (1, 3)
    assert result.verdict is Verdict.WRONG
    assert [c.verdict for c in result.cases] == [
        Verdict.OK,
        Verdict.OK,
        Verdict.WRONG,
        Verdict.OK,
        Verdict.WRONG,
    ]
    assert result.cases[0].name == "small" and result.cases[0].output == "3\n"
    assert all(c.output is None for c in result.cases if c.hidden)
    assert result.max_cpu_s > 0 and result.max_memory_bytes > 0

    visible = judge(sandbox, "python", source, tests, QUICK, visible_only=True)
    assert visible.verdict is Verdict.OK and visible.hidden_total == 0


def test_judge_reports_a_compile_error_on_every_case(sandbox: Sandbox) -> None:
    if "c" not in sandbox.languages():
        pytest.skip("no C toolchain on this box")
    tests = [TestCase("1\n", "1\n"), TestCase("2\n", "2\n", hidden=True)]
    result = judge(sandbox, "c", BROKEN["c"], tests, QUICK)
    assert result.verdict is Verdict.COMPILE_ERROR
    assert result.compile is not None and result.compile.stderr
    assert all(c.verdict is Verdict.COMPILE_ERROR for c in result.cases)
    assert result.visible_passed == 0 and result.hidden_passed == 0


def test_judge_keeps_going_after_a_time_limit(sandbox: Sandbox) -> None:
    source = "n = int(input())\nwhile n == 0:\n    pass\nprint(n)\n"
    tests = [TestCase("0\n", "0\n"), TestCase("7\n", "7\n", hidden=True)]
    result = judge(sandbox, "python", source, tests, Limits(cpu_s=1, wall_s=3))
    assert [c.verdict for c in result.cases] == [Verdict.TIME_LIMIT, Verdict.OK]
    assert result.verdict is Verdict.TIME_LIMIT


def test_no_source_or_output_in_the_log(sandbox: Sandbox, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG", logger="appliance.coding")
    secret = "candidate-secret-marker"
    sandbox.run_source("python", f"print('{secret}')\n# {secret}\n", f"{secret}\n", QUICK)
    assert caplog.records, "each run leaves one line"
    assert all(secret not in record.getMessage() for record in caplog.records)


def test_sweep_removes_a_dead_process_scratch(sandbox: Sandbox) -> None:
    sandbox.scratch.mkdir(parents=True, exist_ok=True)
    orphan = sandbox.scratch / "coding-p999999-1-deadbeef"
    (orphan / "work").mkdir(parents=True)
    (orphan / "work" / "main.py").write_text("print(1)\n")
    assert "coding-p999999-1-deadbeef" in sandbox.sweep()
    assert not orphan.exists()
    assert isinstance(sandbox.scratch, Path)


def test_the_launcher_reports_are_json() -> None:
    """The launcher writes its reports by hand (json would double its start-up time)."""
    import json

    from appliance.coding import _launcher

    report = {
        "reason": 'a "quoted" \\ path\n\ttab é 中文 \U0001f600',
        "n": 3,
        "x": 0.25,
        "flags": [True, False, None],
        "nested": {"hidden": ["/run", "/dev/shm"]},
    }
    decoded = json.loads(_launcher._json(report))
    assert decoded["reason"] == 'a "quoted" \\ path\n\ttab é 中文 \ufffd'
    assert {k: v for k, v in decoded.items() if k != "reason"} == {
        k: v for k, v in report.items() if k != "reason"
    }
