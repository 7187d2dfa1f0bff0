"""Metaflow's custom decorators: @user_step_decorator generators (before and after their yield, catching the step's
exception, skipping the step), UserStepDecorator subclasses (init, pre_step, post_step, a replacement), StepMutators
(adding @environment with OVERRIDE, taking @retry away) and a FlowMutator (a parameter, decorators on every step),
their arguments config values."""
import os

from metaflow import (
    USER_SKIP_STEP,
    Config,
    FlowMutator,
    FlowSpec,
    Parameter,
    StepMutator,
    UserStepDecorator,
    current,
    environment,
    retry,
    step,
    user_step_decorator,
)


@user_step_decorator
def timing(step_name, flow, inputs, attributes):
    print("timing before", step_name, "inputs" if inputs is not None else "no inputs", dict(attributes))
    yield
    flow.timed = step_name
    print("timing after", step_name)


@user_step_decorator
def skipped(step_name, flow, inputs):
    print("skipping", step_name)
    yield USER_SKIP_STEP


@user_step_decorator
def forgiving(step_name, flow, inputs):
    try:
        yield
    except ValueError as error:
        print("forgave", type(error).__name__, error)
        flow.forgiven = True


class Counting(UserStepDecorator):
    def init(self, start=0):
        self.start = start

    def pre_step(self, step_name, flow, inputs=None):
        print("counting pre", step_name, self.start)
        flow.count = self.start

    def post_step(self, step_name, flow, exception=None):
        print("counting post", step_name, flow.count, type(exception).__name__ if exception else None)
        flow.count += 1
        return exception


class Replaced(UserStepDecorator):
    def pre_step(self, step_name, flow, inputs=None):
        def instead(flow):
            print("replaced", step_name)
            flow.replacement = True
            flow.next(flow.end)
        return instead


class AddEnvironment(StepMutator):
    def init(self, name, value):
        self.name, self.value = name, value

    def mutate(self, mutable_step):
        mutable_step.add_decorator(environment, deco_kwargs={"vars": {self.name: self.value}},
                                   duplicates=mutable_step.OVERRIDE)


class DropRetry(StepMutator):
    def mutate(self, mutable_step):
        if mutable_step.has_decorator("retry") and mutable_step.remove_decorator("retry"):
            mutable_step.add_decorator(environment, deco_kwargs={"vars": {"RETRY": "removed"}})


class Everywhere(FlowMutator):
    def pre_mutate(self, mutable_flow):
        config = dict(mutable_flow.configs)["settings"]
        mutable_flow.add_parameter("added", Parameter("added", default=config.tag))

    def mutate(self, mutable_flow):
        for name, mutable_step in sorted(mutable_flow.steps):
            mutable_step.add_decorator("environment:vars={\"EVERYWHERE\": \"yes\"}")
            mutable_step.add_decorator(timing, deco_kwargs={"where": name})


@Everywhere
class CustomDecoratorsFlow(FlowSpec):
    settings = Config("settings", default_value={"tag": "blue", "start": 10})

    @Counting(start=settings.start)
    @step
    def start(self):
        print("start", self.count, os.environ.get("EVERYWHERE"), self.added)
        self.items = [1, 2]
        self.next(self.work, foreach="items")

    @forgiving
    @AddEnvironment("WORKER", settings.tag)
    @step
    def work(self):
        print("work", self.input, os.environ.get("WORKER"), os.environ.get("EVERYWHERE"))
        if self.input == 2:
            raise ValueError("two")
        self.next(self.join)

    @step
    def join(self, inputs):
        print("join", sorted(getattr(i, "forgiven", False) for i in inputs), sorted(i.timed for i in inputs))
        self.next(self.skip_me)

    @skipped
    @step
    def skip_me(self):
        print("never printed")
        self.next(self.replaced)

    @Replaced
    @step
    def replaced(self):
        print("never printed either")
        self.next(self.end)

    @DropRetry
    @retry(times=2)
    @step
    def end(self):
        print("end", self.replacement, self.timed, current.retry_count, os.environ.get("RETRY"))
        print("parameters", current.parameter_names)
        print("decorators", sorted(d["name"] for d in current.graph["steps"]["end"]["decorators"]))


if __name__ == "__main__":
    CustomDecoratorsFlow()
