"""Configs everywhere: a default file, a default value (a dict, JSON text, a function), a parser, a plain config
and a required one; read in @project, @environment (also as **), @retry and Parameter defaults, and in every
step, also after a foreach's join."""
import os

from metaflow import Config, FlowSpec, Parameter, config_expr, current, environment, project, retry, step


def doubled_size(ctx):
    return ctx.configs.settings.size * 2


def default_limits(ctx):
    return {"cpu": 2, "config": ctx.parameter_name, "configs": ctx.configs}


def colon_parser(text):
    return {key.strip(): value.strip() for key, value in (line.split(":", 1) for line in text.strip().splitlines())}


@project(name=config_expr("settings").project)
class ConfigFlow(FlowSpec):
    settings = Config("settings", default="config_flow.settings.json", help="the flow's settings")
    limits = Config("limits", default_value=default_limits)
    extra = Config("extra", default_value='{"note": "a default in JSON text"}')
    notes = Config("notes", default_value="a: one\nb: two", parser=colon_parser)
    needed = Config("needed", required=True)
    raw = Config("raw", default_value="just text", plain=True)
    size = Parameter("size", default=config_expr("settings").size)
    doubled = Parameter("doubled", default=doubled_size, type=int)

    @environment(vars={"GREETING": settings.greeting, "SIZE": config_expr("str(settings.size)")})
    @retry(times=config_expr("settings.retries"))
    @step
    def start(self):
        print("project", current.project_name, current.branch_name)
        print("settings", type(self.settings).__name__, self.settings)
        print("attribute and item", self.settings.nested.deep, self.settings["nested"]["deep"],
              self.settings.nested["deep"], self.settings["nested"].deep)
        print("limits", self.limits, "extra", self.extra.note, "notes", self.notes.a, self.notes["b"])
        print("needed", self.needed, "raw", type(self.raw).__name__, self.raw)
        print("environment", os.environ["GREETING"], os.environ["SIZE"])
        print("parameters", self.size, self.doubled, current.parameter_names)
        print("graph parameters", current.graph["parameters"])
        print("decorators", {d["name"]: d["attributes"] for d in current.graph["steps"]["start"]["decorators"]
                             if d["name"] == "environment"}, current.retry_count)
        for change in (lambda: self.settings.__setitem__("size", 1), lambda: setattr(self.settings, "size", 1),
                       lambda: self.settings.nested.update(deep=0), lambda: self.settings.pop("size")):
            try:
                change()
            except TypeError as error:
                print("immutable", error)
        self.items = list(range(self.settings.size))
        self.next(self.work, foreach="items")

    @environment(**config_expr("settings").env)
    @step
    def work(self):
        print("work", self.input, os.environ["FROM_CONFIG"], self.settings.greeting, self.needed)
        self.next(self.join)

    @step
    def join(self, inputs):
        print("join", self.settings.size, self.limits.cpu, self.extra, sorted(i.input for i in inputs),
              [type(i.settings).__name__ for i in inputs], [i.settings.nested.deep for i in inputs])
        self.next(self.end)

    @step
    def end(self):
        print("end", self.settings.project, self.raw, self.size)


if __name__ == "__main__":
    ConfigFlow()
