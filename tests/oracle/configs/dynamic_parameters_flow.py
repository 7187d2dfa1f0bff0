"""Parameters whose default is a function of Metaflow's ParameterContext: called once per run, before it starts
(with `current` knowing the flow's project), and not at all for a parameter given a value."""
import json
import os

from metaflow import FlowSpec, JSONType, Parameter, current, project, step


def greeting(ctx):
    with open("calls.txt", "a") as calls:
        calls.write(f"{ctx.parameter_name} {ctx.flow_name} {ctx.user_name} {ctx.ds_type} {dict(ctx.configs)} "
                    f"{current.project_name} {current.is_running_flow}\n")
    return "hello " + ctx.user_name


def settings(ctx):
    return json.dumps({"depth": len(ctx.parameter_name)})


@project(name="dynamic")
class DynamicParametersFlow(FlowSpec):
    greeting = Parameter("greeting", default=greeting, help="computed when the run starts")
    settings = Parameter("settings", default=settings, type=JSONType)
    flag = Parameter("flag", default=lambda ctx: True, type=bool)
    count = Parameter("count", default=lambda ctx: len(ctx.flow_name), type=int)

    @step
    def start(self):
        print("values", self.greeting, self.settings, self.flag, self.count)
        print("types", type(self.settings).__name__, type(self.flag).__name__, type(self.count).__name__)
        print("calls", open("calls.txt").read().splitlines() if os.path.exists("calls.txt") else [])
        self.items = [1, 2]
        self.next(self.work, foreach="items")

    @step
    def work(self):
        print("work", self.input, self.greeting, self.count)
        self.next(self.join)

    @step
    def join(self, inputs):
        print("join", self.greeting, self.settings)
        self.next(self.end)

    @step
    def end(self):
        print("end", self.flag)


if __name__ == "__main__":
    DynamicParametersFlow()
