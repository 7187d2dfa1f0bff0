"""What a user reads back after `surface_flow.py run` and `surface_flow.py run --fail True`: each line must be the
same under Metaflow and under airflow_flow_triggers (only the import line differs). Task ids differ between the
two (Metaflow numbers tasks, ids here name foreach branches), so tasks are named by step and index."""
import pickle

from metaflow import DataArtifact, Flow, Metaflow, Run, Step, Task, get_metadata, namespace


def error(make):
    try:
        make()
    except Exception as e:
        kind = type(e).__name__
        return "KeyError" if isinstance(e, KeyError) else "mismatch" if "NamespaceMismatch" in kind \
            else "tagging" if "Tagging" in kind else "invalid pathspec" if "InvalidPathspec" in kind else kind
    return "no error"


def where(task):
    return f"{task.parent.id}[{task.index}]"


print("flows", [flow.id for flow in Metaflow().flows], get_metadata().split("@")[0])
failed, ok = list(Flow("SurfaceFlow"))[:2]
print("runs", ok.successful, ok.finished, failed.successful, failed.finished, failed.end_task is not None)
print("parents", ok.parent.id, ok["start"].parent.id == ok.id, ok["start"].task.parent.id, ok.parent.parent)
print("steps", sorted(step.id for step in ok), sorted(step.id for step in ok.steps()))
start = ok["start"].task
print("start", repr(start.stdout), repr(start.stderr), start.index, start.successful, start.finished)
print("encodings", [e.lower().replace("-", "") for e in start.data.encodings])
for task in sorted(ok["work"], key=lambda t: t.index):
    print("work", where(task), repr(task.stdout), repr(task.stderr), task.current_attempt,
          task.metadata_dict.get("attempt"), task.data.done, task.exception)
b = next(task for task in ok["work"] if task.index == 1)
first = Task(b.pathspec, attempt=0)
print("attempt 0", repr(first.stdout), first.stderr.strip().splitlines()[-1], first.current_attempt)
print("attempts", [sorted(m.value for m in task.metadata if m.type == "attempt")
                   for task in sorted(ok["work"], key=lambda t: t.index)],
      [m.value for m in first.metadata if m.type == "attempt"])
join = ok["join"].task
print("join parents", sorted(where(t) for t in join.parent_tasks), sorted(where(t) for t in join.child_tasks))
print("start children", sorted(where(t) for t in start.child_tasks), list(start.parent_tasks))
meet = ok["meet"].task
print("meet parents", sorted(where(t) for t in meet.parent_tasks), [where(t) for t in meet.child_tasks])
print("step links", [s.id for s in ok["join"].child_steps], sorted(s.id for s in ok["meet"].parent_steps))
artifact = join["done"]
print("artifact", artifact.id, artifact.data, len(artifact.sha), artifact.finished_at == artifact.created_at,
      artifact.parent.id == join.id, "done" in join, "nope" in join, sorted(a.id for a in join))
print("by pathspec", Step(f"{ok.pathspec}/join").task.data.done, Task(join.pathspec).data.done,
      DataArtifact(f"{join.pathspec}/done").data, Run(ok.pathspec).data.sides)
print("data", ok.data.sides, ok.data.name, sorted(ok.data.done), "sides" in ok.data)
print("missing", error(lambda: ok["nope"]), error(lambda: join["nope"]), error(lambda: ok["join"]["nope"]),
      error(lambda: Task(f"{ok.pathspec}/join")))
end = ok.end_task
print("end task", end.parent.id, end.successful, end.data.found_running, end.data.me.pathspec == end.pathspec,
      end.data.whole.pathspec == ok.pathspec, end.data.me.parent.parent.id == ok.id)
bad = failed.end_task
exc = bad.exception
print("failed end", bad.successful, bad.finished, bad.finished_at is not None, exc.type, exc.exception,
      "KeyError" in str(exc), "KeyError: 'the end said no'" in bad.stderr, repr(bad.stdout), bad.data.sides)
print("pickled", pickle.loads(pickle.dumps(join)).pathspec == join.pathspec,
      pickle.loads(pickle.dumps(ok)).data.sides, pickle.loads(pickle.dumps(artifact)).data)
print("meta", sorted((k, v) for k, v in b.metadata_dict.items() if k in ("attempt", "ds-type", "runtime", "user")),
      b.runtime_name)

ok.add_tag("one")
ok.add_tags(["two", "three"])
ok.remove_tag("two")
ok.replace_tag("three", "four")
ok.replace_tags(["one"], ["five", "six"])
ok.add_tag("runtime:dev")
print("tags", sorted(ok.user_tags), "runtime:dev" in ok.system_tags, sorted(Run(ok.pathspec).user_tags))
print("tag errors", error(lambda: ok.remove_tag("runtime:dev")), error(lambda: ok.add_tag("")),
      error(lambda: ok.add_tag("a" * 600)), error(lambda: ok.add_tag(b"\xff\xfe")), error(lambda: ok.remove_tag(4)),
      error(lambda: ok.replace_tags([], [])), sorted(ok.user_tags))
print("filtered", [r.id == ok.id for r in Flow("SurfaceFlow").runs("five")], len(list(ok.steps("five"))),
      len(list(ok["work"].tasks("five"))), list(ok.steps("nope")))
namespace("user:nobody")
print("namespaces", error(lambda: Run(ok.pathspec)), error(lambda: Task(join.pathspec)),
      error(lambda: Step(f"{ok.pathspec}/join")), Task(join.pathspec, _namespace_check=False).data.done)
namespace(None)
print("everyone", Task(join.pathspec).data.done)
