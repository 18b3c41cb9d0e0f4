"""Inventory hashing and deltas."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from patchfleet.core.packages import (
    Package,
    PackageKey,
    apply_delta,
    index,
    inventory_delta,
    inventory_hash,
)

A1 = Package("a", "1", "amd64")
A2 = Package("a", "2", "amd64")
B1 = Package("b", "1", "amd64")
A1_I386 = Package("a", "1", "i386")


def test_hash_ignores_order_but_not_content():
    assert inventory_hash([A1, B1]) == inventory_hash([B1, A1])
    assert inventory_hash([A1, B1]) != inventory_hash([A2, B1])
    assert inventory_hash([A1]) != inventory_hash([A1_I386])
    assert inventory_hash([Package("a", "1", source_name="x")]) != inventory_hash(
        [Package("a", "1")]
    )


def test_delta_upserts_changed_and_new_and_removes_gone():
    delta = inventory_delta(index([A1, B1]), index([A2, A1_I386]))
    assert delta.upserted == (A2, A1_I386)
    assert delta.removed == (PackageKey("b", "amd64"),)
    assert not delta.is_empty


def test_no_change_is_an_empty_delta():
    assert inventory_delta(index([A1, B1]), index([B1, A1])).is_empty


packages = st.builds(
    Package,
    name=st.sampled_from(["a", "b", "c", "libc6", "bash"]),
    version=st.sampled_from(["1", "2", "1:1.0-1", "2.0~rc1"]),
    arch=st.sampled_from(["amd64", "i386", "all"]),
)


@given(st.lists(packages), st.lists(packages))
def test_apply_delta_inverts_delta(old, new):
    old_i, new_i = index(old), index(new)
    assert apply_delta(old_i, inventory_delta(old_i, new_i)) == new_i
    assert inventory_hash(
        apply_delta(old_i, inventory_delta(old_i, new_i)).values()
    ) == inventory_hash(new_i.values())
