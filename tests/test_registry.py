import pytest

from convergent.findings import Code, Finding
from convergent.registry import Registry


def test_register_run_and_override():
    reg = Registry("t")

    @reg.register("few", codes=[Code.DATA_TOO_FEW], min_count=10)
    def few(ctx, params):
        if ctx < params["min_count"]:
            yield Finding(Code.DATA_TOO_FEW, "warning", 1.0, "few", "few", {"n": ctx})

    assert [f.code for f in reg.run(5)] == [Code.DATA_TOO_FEW]
    assert reg.run(50) == []
    assert reg.run(5, overrides={"few": {"min_count": 3}}) == []
    assert reg.codes() == {Code.DATA_TOO_FEW}


def test_duplicate_name_and_unknown_params_are_errors():
    reg = Registry("t")
    reg.register("a", codes=[])(lambda c, p: [])
    with pytest.raises(ValueError, match="already registered"):
        reg.register("a", codes=[])(lambda c, p: [])
    with pytest.raises(ValueError, match="no parameter"):
        reg.run(None, overrides={"a": {"nope": 1}})
    with pytest.raises(ValueError, match="no check"):
        reg.run(None, overrides={"b": {}})
