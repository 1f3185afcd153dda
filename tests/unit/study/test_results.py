import math

from gantrack.study.results import RecipeResult, best, order
from gantrack.study.spec import Point


def recipe(name: str, fids: dict[int, float]) -> RecipeResult:
    return RecipeResult(Point(name, {}, tuple(fids)), {"fid": fids})


def test_a_recipe_ranks_on_finite_values_only_so_never_on_one_lucky_seed():
    reference = recipe("default", {1: 3.0, 2: 3.5, 3: 4.0})
    lucky = recipe("lucky", {1: 1.0, 2: math.nan, 3: math.inf})  # two seeds diverged
    nothing = recipe("nothing", {1: math.nan, 2: math.nan, 3: math.nan})
    assert not lucky.ranked and not nothing.ranked and reference.ranked
    for results in ([reference, lucky, nothing], [nothing, lucky, reference]):
        assert best(results) is reference
        assert order(results)[0] is reference  # the unranked follow, in the study's order
