#!/usr/bin/env python3
"""Checks deploy/'s job files (ctest: deploy_job_files).

Neither scheduler's own validator runs here: Slurm's (`sbatch --test-only`) needs a controller, Kubernetes' schema
check runs when the `kubernetes-validate` package (PyPI) is importable or on PATH, and is reported as skipped
otherwise. What always runs: the files parse (PyYAML, `bash -n`, shellcheck when installed) and the fields that
matter hold -- the array range, the index and count variables, the merge's dependency on every shard, one GPU per
task, a shared volume, and every qjit flag the files use is one `qjit <command> --help` lists, with the warm-up
covering exactly what was tuned.

Usage: check_deploy.py --qjit PATH/TO/qjit --root REPO
"""
import argparse
import os
import re
import shutil
import subprocess
import sys

failures = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        failures.append(what)


def help_flags(qjit, *command):
    out = subprocess.run([qjit, *command, "--help"], capture_output=True, text=True, check=False).stdout
    return set(re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", out))


def shell_commands(text, head):
    """Each command line that starts with `head` (continuations joined, cut at ; > | && or a newline)."""
    joined = re.sub(r"\\\n\s*", " ", text)
    return [m.group(0) for m in re.finditer(re.escape(head) + r"[^;>|&\n]*", joined)]


def flags_of(command):
    return re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", command)


def flag_value(command, flag):
    m = re.search(re.escape(flag) + r"[ =]+(\"[^\"]*\"|\S+)", command)
    return m.group(1).strip('"') if m else None


def check_flags(label, commands, known):
    check(bool(commands), f"{label}: the command is there")
    for c in commands:
        unknown = [f for f in flags_of(c) if f not in known]
        check(not unknown, f"{label}: flags are qjit's own (unknown: {unknown})")


def check_slurm(root, qjit, tune_flags, warmup_flags, cache_flags):
    d = os.path.join(root, "deploy", "slurm")
    tune = open(os.path.join(d, "tune.sbatch")).read()
    merge = open(os.path.join(d, "merge.sbatch")).read()
    submit = open(os.path.join(d, "submit.sh")).read()
    for name in ("tune.sbatch", "merge.sbatch", "submit.sh"):
        r = subprocess.run(["bash", "-n", os.path.join(d, name)], capture_output=True, text=True)
        check(r.returncode == 0, f"slurm/{name}: bash -n {r.stderr.strip()}")
    if shutil.which("shellcheck"):
        r = subprocess.run(["shellcheck", *(os.path.join(d, n) for n in ("tune.sbatch", "merge.sbatch", "submit.sh"))],
                           capture_output=True, text=True)
        check(r.returncode == 0, "slurm: shellcheck " + r.stdout.strip()[:400])
    else:
        print("skip shellcheck: not installed")

    array = re.search(r"^#SBATCH --array=(\d+)-(\d+)(?::(\d+))?\s*$", tune, re.M)
    check(array is not None and int(array.group(1)) <= int(array.group(2)), "tune.sbatch: #SBATCH --array=A-B range")
    check(re.search(r"^#SBATCH --(gpus-per-task=1|gres=gpu:1)\s*$", tune, re.M) is not None,
          "tune.sbatch: one GPU per array task")
    tunes = shell_commands(tune, '"$QJIT" tune')
    check_flags("tune.sbatch: qjit tune", tunes, tune_flags)
    for c in tunes:
        check(flag_value(c, "--shard") == "auto", "tune.sbatch: --shard auto (SLURM_ARRAY_TASK_ID, _COUNT, _MIN)")
        check(flag_value(c, "--devices") == "all", "tune.sbatch: --devices all (the GPUs Slurm gave the task)")
        check("--resume" in flags_of(c), "tune.sbatch: --resume (a requeued task finishes its own part)")
        check(flag_value(c, "--db") == "$part.json", "tune.sbatch: --db is the task's part")
    check('part="$TUNE_DIR/parts/part-$SLURM_ARRAY_TASK_ID"' in tune, "tune.sbatch: parts named part-$SLURM_ARRAY_TASK_ID")

    check('--array="0-$((SHARDS - 1))"' in submit, "submit.sh: the array is 0..SHARDS-1")
    check(re.search(r'--dependency="afterok:\$array"[^\n]*merge\.sbatch', submit) is not None,
          "submit.sh: merge.sbatch depends on the whole array (afterok)")
    check("export SHARDS" in submit and "SHARDS=${SHARDS:?" in merge, "merge.sbatch: gets SHARDS and checks the part count")

    merges = shell_commands(merge, '"$QJIT" db merge')
    warmups = shell_commands(merge, '"$QJIT" warmup')
    check(len(merges) == 1 and len(warmups) == 1 and merge.index('"$QJIT" db merge') < merge.index('"$QJIT" warmup'),
          "merge.sbatch: qjit db merge, then qjit warmup")
    check_flags("merge.sbatch: qjit warmup", warmups, warmup_flags)
    check_flags("merge.sbatch: qjit cache verify", shell_commands(merge, '"$QJIT" cache verify'), cache_flags)
    check(re.search(r"^chmod -R a-w \"\$ship\"$", merge, re.M) is not None, "merge.sbatch: the shipped cache is read-only")
    for c in warmups:
        check(flag_value(c, "--tuning-db") == "$ship/tuning.json", "merge.sbatch: warmup uses the merged database")
        for f in ("--m", "--plans", "--shapes"):
            check(flag_value(c, f) == flag_value(tunes[0], f), f"merge.sbatch: warmup {f} is tune's")


def check_kubernetes(root, tune_flags, warmup_flags, cache_flags):
    path = os.path.join(root, "deploy", "k8s", "tune-job.yaml")
    try:
        import yaml
    except ImportError:
        print("skip the Kubernetes checks: PyYAML is not importable")
        return
    docs = [d for d in yaml.safe_load_all(open(path)) if d]
    jobs = {d["metadata"]["name"]: d for d in docs if d.get("kind") == "Job"}
    check(set(jobs) == {"qjit-tune", "qjit-tune-merge"}, "tune-job.yaml: the tuning Job and the merge Job")
    if set(jobs) != {"qjit-tune", "qjit-tune-merge"}:
        return
    tune, merge = jobs["qjit-tune"]["spec"], jobs["qjit-tune-merge"]["spec"]
    check(tune.get("completionMode") == "Indexed", "qjit-tune: completionMode Indexed")
    completions = tune.get("completions")
    check(isinstance(completions, int) and completions >= 1, "qjit-tune: completions")
    check(isinstance(tune.get("parallelism"), int) and 1 <= tune["parallelism"] <= completions, "qjit-tune: parallelism")
    pod = tune["template"]["spec"]
    (c,) = pod["containers"]
    env = {e["name"]: e.get("value") for e in c.get("env", [])}
    check(env.get("QJIT_SHARD_COUNT") == str(completions), "qjit-tune: QJIT_SHARD_COUNT equals completions")
    check(c.get("resources", {}).get("limits", {}).get("nvidia.com/gpu") == 1, "qjit-tune: nvidia.com/gpu: 1")
    script = " ".join(c.get("command", []) + c.get("args", []))
    tunes = shell_commands(script, "qjit tune")
    check_flags("qjit-tune: qjit tune", tunes, tune_flags)
    for t in tunes:
        check(flag_value(t, "--shard") == "auto", "qjit-tune: --shard auto (JOB_COMPLETION_INDEX + QJIT_SHARD_COUNT)")
        check(flag_value(t, "--db") == "${part}.json", "qjit-tune: --db is the pod's part")
    check("part=/work/parts/part-${JOB_COMPLETION_INDEX}" in script and "touch ${part}.done" in script,
          "qjit-tune: part-$JOB_COMPLETION_INDEX.json, then a .done marker")

    def claims(spec):
        vols = {v["name"]: v.get("persistentVolumeClaim", {}).get("claimName") for v in spec.get("volumes", [])}
        mounts = [m for ctr in spec.get("containers", []) + spec.get("initContainers", [])
                  for m in ctr.get("volumeMounts", [])]
        return {vols.get(m["name"]) for m in mounts if m["mountPath"] == "/work"}

    mpod = merge["template"]["spec"]
    check(claims(pod) == claims(mpod) and None not in claims(pod), "both Jobs mount the same PVC at /work")
    (init,) = mpod.get("initContainers", [])
    ienv = {e["name"]: e.get("value") for e in init.get("env", [])}
    check(ienv.get("SHARDS") == str(completions), "qjit-tune-merge: waits for as many shards as there are completions")
    check("part-*.done" in " ".join(init.get("args", [])), "qjit-tune-merge: the init container waits for the markers")
    check(isinstance(merge.get("activeDeadlineSeconds"), int), "qjit-tune-merge: a deadline if a shard never ends")
    (mc,) = mpod["containers"]
    mscript = " ".join(mc.get("command", []) + mc.get("args", []))
    warmups = shell_commands(mscript, "qjit warmup")
    check("qjit db merge /work/ship/tuning.json /work/parts/part-*[0-9].json" in mscript, "qjit-tune-merge: db merge")
    check_flags("qjit-tune-merge: qjit warmup", warmups, warmup_flags)
    check_flags("qjit-tune-merge: qjit cache verify", shell_commands(mscript, "qjit cache verify"), cache_flags)
    check(mscript.index("qjit db merge") < mscript.index("qjit warmup") < mscript.index("chmod -R a-w /work/ship"),
          "qjit-tune-merge: merge, warm-up, then read-only")
    for w in warmups:
        for f in ("--m", "--plans", "--shapes"):
            check(flag_value(w, f) == flag_value(tunes[0], f), f"qjit-tune-merge: warmup {f} is tune's")

    validator = None
    try:
        import kubernetes_validate  # noqa: F401
        validator = [sys.executable, "-m", "kubernetes_validate"]
    except ImportError:
        if shutil.which("kubernetes-validate"):
            validator = ["kubernetes-validate"]
    if validator:
        r = subprocess.run(validator + ["--strict", "--quiet", path], capture_output=True, text=True)
        check(r.returncode == 0, "tune-job.yaml: kubernetes-validate --strict " + (r.stdout + r.stderr).strip()[:400])
    else:
        print("skip kubernetes-validate (the schema check): not importable and not on PATH (pip install "
              "kubernetes-validate)")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--qjit", required=True)
    p.add_argument("--root", required=True)
    a = p.parse_args()
    tune_flags = help_flags(a.qjit, "tune")
    check({"--shard", "--devices", "--db", "--resume"} <= tune_flags, "qjit tune --help lists the flags the jobs need")
    warmup_flags, cache_flags = help_flags(a.qjit, "warmup"), help_flags(a.qjit, "cache")
    check_slurm(a.root, a.qjit, tune_flags, warmup_flags, cache_flags)
    check_kubernetes(a.root, tune_flags, warmup_flags, cache_flags)
    print(f"{len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
