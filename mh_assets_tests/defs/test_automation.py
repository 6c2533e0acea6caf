"""Refresh by automation: each asset once, per sex after the cohort, cross-sex after both.

The graph below has the shape of the real one (unpartitioned ingest, a per-sex chain,
unpartitioned assets combining both sexes, and a report that also reads a cohort-level
table) with trivial bodies, so each automation tick can be checked in isolation.
"""

import dagster as dg
import pytest

from mh_assets.defs.automation import refresh_guards, with_refresh_conditions

sex = dg.StaticPartitionsDefinition(["female", "male"])
FAIL = set()


@dg.asset
def registry_extract(): ...
@dg.asset
def icd_descriptors(): ...
@dg.asset(deps=[registry_extract])
def cohort(): ...
@dg.asset(deps=[cohort])
def sud_table(): ...
@dg.asset(deps=[cohort, icd_descriptors], partitions_def=sex)
def corpus(): ...
@dg.asset(deps=[corpus], partitions_def=sex)
def model(context: dg.AssetExecutionContext):
    if context.partition_key in FAIL:
        raise RuntimeError("training failed")
@dg.asset(deps=[model, corpus], partitions_def=sex)
def profiles(): ...
@dg.asset(deps=[profiles])
def table(): ...
@dg.asset(deps=[table, sud_table])
def report(): ...


ASSETS = with_refresh_conditions(
    [registry_extract, icd_descriptors, cohort, sud_table, corpus, model, profiles, table, report]
)
PER_SEX = ["corpus", "model", "profiles"]


class Ticker:
    def __init__(self, instance):
        self.instance, self.cursor = instance, None

    def materialize(self, keys, partition=None):
        return dg.materialize(ASSETS, selection=keys, instance=self.instance,
                              partition_key=partition, raise_on_error=False)

    def tick(self) -> dict[str, set]:
        result = dg.evaluate_automation_conditions(
            defs=ASSETS, instance=self.instance, cursor=self.cursor)
        self.cursor = result.cursor
        return {key.to_user_string(): result.get_requested_partitions(key)
                for a in ASSETS for key in a.keys if result.get_requested_partitions(key)}


@pytest.fixture
def ticker():
    FAIL.clear()
    with dg.instance_for_test() as instance:
        t = Ticker(instance)
        assert t.materialize(["registry_extract", "icd_descriptors", "cohort", "sud_table"]).success
        for partition in ("female", "male"):
            assert t.materialize(PER_SEX, partition).success
        assert t.materialize(["table", "report"]).success
        assert t.tick() == {}  # an up-to-date graph requests nothing
        yield t


def test_a_new_extract_refreshes_every_asset_once_in_dependency_order(ticker):
    assert ticker.materialize(["registry_extract", "icd_descriptors"]).success  # sensor's run
    # cohort-level first; neither the per-sex chain nor the report may start on old inputs
    assert ticker.tick() == {"cohort": {None}, "sud_table": {None}}
    assert ticker.materialize(["cohort", "sud_table"]).success
    # then the whole per-sex chain, one request per sex
    assert ticker.tick() == {name: {"female", "male"} for name in PER_SEX}
    for partition in ("female", "male"):
        assert ticker.materialize(PER_SEX, partition).success
    # then what combines both sexes, once
    assert ticker.tick() == {"table": {None}, "report": {None}}
    assert ticker.materialize(["table", "report"]).success
    assert ticker.tick() == {}
    assert ticker.tick() == {}


def test_cross_sex_assets_wait_while_a_sex_failed(ticker):
    assert ticker.materialize(["registry_extract", "icd_descriptors"]).success
    ticker.tick()
    assert ticker.materialize(["cohort", "sud_table"]).success
    ticker.tick()
    FAIL.add("male")
    assert ticker.materialize(PER_SEX, "female").success
    assert not ticker.materialize(PER_SEX, "male").success
    assert ticker.tick() == {}  # no table or report built from one fresh sex and one stale
    FAIL.clear()
    assert ticker.materialize(PER_SEX, "male").success  # fixed by hand
    assert ticker.tick() == {"table": {None}, "report": {None}}


def test_guards_are_the_ancestors_of_another_partitioning():
    guards = {k.to_user_string(): {a.to_user_string() for a in v}
              for k, v in refresh_guards(ASSETS).items()}
    assert "registry_extract" not in guards and "icd_descriptors" not in guards
    assert guards["cohort"] == set() and guards["sud_table"] == set()
    assert guards["model"] == {"registry_extract", "cohort", "icd_descriptors"}
    assert guards["report"] == {"corpus", "model", "profiles"}


def test_every_asset_of_the_code_location_but_the_roots_refreshes_by_automation():
    from mh_assets_tests.support.platform import load_defs

    graph = load_defs().resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        condition = graph.get(key).automation_condition
        if key.to_user_string() in ("registry_extract", "icd_descriptors"):
            assert condition is None, key
        else:
            assert condition is not None and condition.get_label() == "refresh", key
    sensors = {s.name: s for s in load_defs().sensors}
    assert sensors["new_extract_sensor"].default_status == dg.DefaultSensorStatus.RUNNING
    assert sensors["refresh_automation"].default_status == dg.DefaultSensorStatus.RUNNING
