"""Size markers against images built on the real engine (exact sizes via FROM scratch)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import docker
import pytest

from .conftest import DOCKER_BYTES, MakeImageDir, buildx_builds

pytestmark = [
    pytest.mark.engine,
    DOCKER_BYTES,
]


def test_limit_equal_to_size_passes_and_one_byte_less_fails(
    pytester: pytest.Pytester, image_dir: MakeImageDir
) -> None:
    image_dir(123_457)
    pytester.makepyfile(
        """
        import pytest
        from pytest_imagesize import build_image

        app = build_image("Dockerfile")

        @pytest.mark.max_image_size(123_457)
        def test_equal(app):
            assert app.size == 123_457

        @pytest.mark.max_image_size(123_456)
        def test_one_byte_less(app):
            pass

        @pytest.mark.max_image_size("123.457kB")
        def test_decimal_units(app):
            pass
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*image app (*) size is 123,457 B (123.46 KB), over the limit of 123,456 B (123.46 KB) "
            "by 1 B (1 B) (@pytest.mark.max_image_size(123456))",
            "*largest layers:",
            "*123,457 B (123.46 KB)  COPY * /blob",
        ]
    )
    assert "Traceback" not in result.stdout.str()


def test_mb_is_decimal_and_mib_is_binary(pytester: pytest.Pytester, image_dir: MakeImageDir) -> None:
    image_dir(1_048_576)  # exactly 1 MiB, more than 1 MB
    pytester.makepyfile(
        """
        import pytest
        from pytest_imagesize import build_image

        app = build_image("Dockerfile")

        @pytest.mark.max_image_size("1MiB")
        def test_mib(app):
            pass

        @pytest.mark.max_image_size("1MB")
        def test_mb(app):
            pass

        @pytest.mark.max_image_size("1.048576 MB")
        def test_exact_in_mb(app):
            pass
        """
    )
    result = pytester.runpytest("-v")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["*test_mb FAILED*"])


def test_class_and_module_markers_apply_and_closest_wins(
    pytester: pytest.Pytester, image_dir: MakeImageDir
) -> None:
    image_dir(5000)
    pytester.makepyfile(
        """
        import pytest
        from pytest_imagesize import build_image

        pytestmark = pytest.mark.max_image_size(4999)
        app = build_image("Dockerfile")

        def test_module_marker_fails(app):
            pass

        @pytest.mark.max_image_size(5000)
        def test_function_marker_overrides(app):
            pass

        @pytest.mark.max_image_size("5kB")
        class TestClass:
            def test_class_marker_wins_over_module(self, app):
                pass

            @pytest.mark.max_image_layers(1)
            def test_layers_too(self, app):
                assert len(app.layers) == 1
        """
    )
    result = pytester.runpytest("-v")
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(["*test_module_marker_fails FAILED*"])


def test_layer_limit(pytester: pytest.Pytester, image_dir: MakeImageDir) -> None:
    image_dir(100)
    (pytester.path / "more").write_bytes(b"x" * 10)
    (pytester.path / "Dockerfile").write_text("FROM scratch\nCOPY blob /blob\nCOPY more /more\n")
    pytester.makepyfile(
        """
        import pytest
        from pytest_imagesize import build_image

        app = build_image("Dockerfile")

        @pytest.mark.max_image_layers(2)
        def test_two(app):
            assert [layer.size for layer in app.layers] == [100, 10]

        @pytest.mark.max_image_layers(1)
        def test_one(app):
            pass
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*image app (*) has 2 layers, 1 over the limit of 1*"])


def test_two_image_fixtures_need_image_argument(pytester: pytest.Pytester, image_dir: MakeImageDir) -> None:
    image_dir(3000, "big")
    image_dir(1000, "small")
    pytester.makepyfile(
        """
        import pytest
        from pytest_imagesize import build_image

        big = build_image("big/Dockerfile")
        small = build_image("small/Dockerfile")

        @pytest.mark.max_image_size(1000, image="small")
        @pytest.mark.max_image_size(3000, image="big")
        def test_both(big, small):
            assert big.size == 3 * small.size
        """
    )
    pytester.runpytest().assert_outcomes(passed=1)

    pytester.makepyfile(
        """
        import pytest
        from pytest_imagesize import build_image

        big = build_image("big/Dockerfile")
        small = build_image("small/Dockerfile")

        @pytest.mark.max_image_size(1000)
        def test_ambiguous(big, small):
            pass
        """
    )
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "ERROR: test_two_image_fixtures_need_image_argument.py::test_ambiguous: "
            "@pytest.mark.max_image_size(1000): the test uses several images (big, small); "
            "say which with image='...'"
        ]
    )


@pytest.mark.engine
def test_declarations_resolve_paths_from_their_module_and_build_once(
    pytester: pytest.Pytester,
    image_dir: MakeImageDir,
    builder: str,
    cli_log: Path,
    docker_client: docker.DockerClient,
    engine_name: str,
) -> None:
    image_dir(2048, "service")
    pytester.makeconftest(
        """
        import json
        from pytest_imagesize import build_image

        measured = []
        svc = build_image("service/Dockerfile", context="service")
        same = build_image("service/Dockerfile")  # same inputs: one build for both names

        def pytest_imagesize_image_measured(config, image):
            measured.append([image.name, image.id])

        def pytest_sessionfinish(session):
            with open("measured.json", "w") as handle:
                json.dump(measured, handle)
        """
    )
    sub = pytester.mkdir("sub")
    (sub / "test_a.py").write_text(
        "import pytest\n"
        "@pytest.mark.max_image_size('2KiB')\n"
        "def test_a(svc):\n    pass\n"
        "def test_b(svc, same):\n    assert svc.id == same.id and svc.size == 2048\n"
    )
    start = int(time.time())
    result = pytester.runpytest("-s")
    result.assert_outcomes(passed=2)
    measured = json.loads((pytester.path / "measured.json").read_text())
    assert sorted(name for name, _ in measured) == ["same", "svc"]  # each name measured once
    assert len({image_id for _, image_id in measured}) == 1
    if builder == "buildx":
        assert buildx_builds(cli_log) == 1
    elif engine_name == "docker":  # the classic build tags its one image once
        events = docker_client.api.events(
            since=start, until=int(time.time()) + 1, decode=True, filters={"type": "image", "event": "tag"}
        )
        tags = [e["Actor"]["Attributes"]["name"] for e in events]
        # this run's names only: other runs may share the engine and tag their own images
        assert (
            len([t for t in tags if t.startswith(("pytest-imagesize/svc:", "pytest-imagesize/same:"))]) == 1
        ), tags


def test_build_args_from_the_declaration_and_the_command_line(
    pytester: pytest.Pytester, image_dir: MakeImageDir
) -> None:
    (pytester.path / "small").write_bytes(b"s" * 1000)
    (pytester.path / "big").write_bytes(b"b" * 5000)
    (pytester.path / "Dockerfile").write_text("FROM scratch\nARG PICK=small\nCOPY ${PICK} /picked\n")
    pytester.makepyfile(
        """
        from pytest_imagesize import build_image
        default = build_image("Dockerfile")
        declared = build_image("Dockerfile", build_args={"PICK": "big"})

        def test_sizes(default, declared, request):
            expected = int(request.config.getoption("image_build_args") and 5000 or 1000)
            assert default.size == expected
            assert declared.size == 5000
        """
    )
    pytester.runpytest().assert_outcomes(passed=1)
    # the command line adds to (and wins over) every declaration
    pytester.runpytest("--image-build-arg", "PICK=big").assert_outcomes(passed=1)
