"""The package rule (Go's debug/gosym rule plus the type-equality and internals refinements)."""

from __future__ import annotations

import pytest

from pytest_imagesize.measure.go.names import ModuleMatcher, package_of


@pytest.mark.parametrize(
    "name, pkg",
    [
        ("main.main", "main"),
        ("main.main.func1", "main"),
        ("net/http.(*Server).Serve", "net/http"),
        ("net/http.HandlerFunc.ServeHTTP", "net/http"),
        ("vendor/golang.org/x/net/http2/hpack.(*Decoder).Write", "vendor/golang.org/x/net/http2/hpack"),
        ("github.com/google/uuid.New", "github.com/google/uuid"),
        ("gopkg.in/yaml.v3.Unmarshal", "gopkg.in/yaml"),  # Go's own rule: first dot after the last slash
        ("sync/atomic.(*Pointer[go.shape.struct { net/http.x int }]).Load", "sync/atomic"),
        ("slices.SortFunc[go.shape.[]uint8,go.shape.func(a/b.T) int]", "slices"),
        ("type:.eq.net/http.Header", "net/http"),
        ("type..eq.net/http.http2FrameHeader", "net/http"),
        ("type:.eq.*main.info", "main"),
        ("type:.eq.[2]interface {}", "runtime"),
        ("type:.eq.struct { a int; b net/http.T }", "runtime"),
        ("go:buildid", "runtime"),
        ("go.buildid", "runtime"),
        ("go.itab.*net/http.x,io.Reader", "runtime"),
        ("go.uber.org/zap.New", "go.uber.org/zap"),
        ("go.opentelemetry.io/otel/trace.(*Span).End", "go.opentelemetry.io/otel/trace"),
        ("type:.hash.main.T", "main"),
        ("crosscall2", "runtime"),
        ("_cgo_topofstack", "runtime"),
    ],
)
def test_package_of(name: str, pkg: str) -> None:
    assert package_of(name) == pkg


def test_modules_by_longest_prefix() -> None:
    m = ModuleMatcher("example.com/app", ["golang.org/x/text", "golang.org/x/text/v2", "github.com/a/b"])
    assert m.module_of("golang.org/x/text/language") == "golang.org/x/text"
    assert m.module_of("golang.org/x/text/v2/x") == "golang.org/x/text/v2"
    assert m.module_of("golang.org/x/textual") == "unknown"
    assert m.module_of("main") == "example.com/app"
    assert m.module_of("example.com/app/internal/db") == "example.com/app"
    assert m.module_of("net/http") == "std"
    y = ModuleMatcher("example.com/app", ["gopkg.in/yaml.v3"])
    assert y.module_of("gopkg.in/yaml") == "gopkg.in/yaml.v3"
    assert m.module_of("runtime") == "std"
    assert m.module_of("vendor/golang.org/x/net/dns/dnsmessage") == "std"
    assert m.group({"net/http": 5, "runtime": 2, "github.com/a/b/c": 1}) == {"std": 7, "github.com/a/b": 1}
