"""What a step prints and keeps, read back through the client and the command line's `logs`, `dump` and `tag`:
tests/test_read_commands_oracle.py runs it under Metaflow 2.19 and under this package and compares."""
import sys

from metaflow import FlowSpec, Parameter, Task, current, retry, step


class SurfaceFlow(FlowSpec):
    fail = Parameter("fail", default=False, type=bool, help="the end step raises")

    @step
    def start(self):
        print("hello out")
        print("hello err", file=sys.stderr)
        sys.stdout.write("no newline")
        self.items = ["a", "b", "c"]
        self.big = list(range(500))
        self.encodings = (sys.stdout.encoding, sys.stderr.encoding)
        self.next(self.work, foreach="items")

    @retry(times=1, minutes_between_retries=0)
    @step
    def work(self):
        print("work on", self.input, "attempt", current.retry_count)
        if self.input == "b" and current.retry_count == 0:
            print("b goes wrong", file=sys.stderr)
            raise ValueError("b fails once")
        self.done = self.input.upper()
        self.next(self.join)

    @step
    def join(self, inputs):
        self.done = sorted(i.done for i in inputs)
        self.next(self.fork)

    @step
    def fork(self):
        self.next(self.left, self.right)

    @step
    def left(self):
        self.side = "left"
        self.next(self.meet)

    @step
    def right(self):
        self.side = "right"
        self.next(self.meet)

    @step
    def meet(self, inputs):
        self.sides = sorted(i.side for i in inputs)
        self.merge_artifacts(inputs, exclude=["side"])
        self.next(self.end)

    @step
    def end(self):
        self.me, self.whole = current.task, current.run
        mine = Task(current.pathspec)          # this very task, while it runs
        self.found_running = (mine.parent.id, mine.parent.parent.id == current.run_id, mine.successful)
        print("the end", self.sides)
        if self.fail:
            raise KeyError("the end said no")


if __name__ == "__main__":
    SurfaceFlow()
