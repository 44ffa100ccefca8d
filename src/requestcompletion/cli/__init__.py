"""The `requestcompletion` command line (also `python -m requestcompletion`).

    requestcompletion demo [--model local|scripted|openai:MODEL|...] [--ask] [--state-dir DIR]
    requestcompletion runs [--state-dir DIR]
    requestcompletion show RUN [--state-dir DIR]
    requestcompletion mcp serve MODULE:ATTR [--http] [--host HOST] [--port PORT]
    requestcompletion viz [RUN] [--port N] [--export RUN -o FILE] [--diff A B]

Built on argparse rather than typer: it is in the standard library, so the command
line adds no dependency and starts fast, and three commands with a few options
each do not need more. The commands live in their own modules and are imported
only when chosen (`rich`, used to draw tables and trees, only by `runs`/`show`).

Every error a user can cause (an unknown run, a corrupt file, an unknown model
provider, a missing key or extra) ends as one line on stderr and exit code 1;
argparse's own usage errors exit with 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .._text import escape_controls
from . import viz

__all__ = ["main"]

DEFAULT_STATE_DIR = ".covailence"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="requestcompletion",
        description="Run agentic workflows and look at what they did.",
        epilog="Start with `requestcompletion demo`, then `requestcompletion show <run id>`.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = commands.add_parser(
        "demo",
        help="run the example agent workflow and save the run",
        description=(
            "Run a small trip-planning workflow: an agent looks up the weather of three "
            "cities (its tool calls run in parallel), a fan-out of function nodes scores "
            "them, and an agent picks one as structured output. Progress, tokens and "
            "streamed text are printed as they happen; the run is saved for `show`."
        ),
    )
    demo.add_argument(
        "--model",
        default=None,
        metavar="MODEL",
        help=(
            "local (default: SmolLM2-135M embedded, needs the 'local' extra), scripted "
            "(instant and offline, no real model), openai:MODEL (needs OPENAI_API_KEY), "
            "ollama:MODEL (Ollama on 127.0.0.1:11434) or anthropic:MODEL (needs "
            "ANTHROPIC_API_KEY). Default: $RC_MODEL, else local"
        ),
    )
    demo.add_argument(
        "--viz",
        action="store_true",
        help="watch the run in the browser: print the viewer's URL, keep it up until Ctrl-C",
    )
    demo.add_argument(
        "--ask",
        action="store_true",
        help="ask on the terminal (rc.ask) before each weather lookup the agent makes",
    )
    _state_dir(demo, "where to save the run")

    runs = commands.add_parser(
        "runs",
        help="list the saved runs",
        description="List the runs saved in the state folder: id, start, duration, "
        "outcome, node count and LLM tokens, oldest first.",
    )
    _state_dir(runs, "where the runs are saved")

    show = commands.add_parser(
        "show",
        help="draw a saved run's call tree",
        description="Draw a saved run's call tree: each node with its status, latency, "
        "tokens and error.",
    )
    show.add_argument(
        "run", metavar="RUN", help="a run id (or a unique start of one), or a path to a run file"
    )
    _state_dir(show, "where the runs are saved")

    mcp = commands.add_parser(
        "mcp", help="serve nodes as an MCP server", description="Model Context Protocol."
    )
    mcp_commands = mcp.add_subparsers(dest="mcp_command", required=True, metavar="COMMAND")
    serve = mcp_commands.add_parser(
        "serve",
        help="serve nodes as the tools of an MCP server",
        description="Serve the nodes at MODULE:ATTR (a node, or a list of them) as MCP "
        "tools, over stdio (default) or streamable HTTP; each call is a recorded request "
        "of one runner, saved when the server stops. Needs the 'mcp' extra.",
    )
    serve.add_argument("target", metavar="MODULE:ATTR", help="e.g. myapp.tools:NODES")
    serve.add_argument("--http", action="store_true", help="streamable HTTP instead of stdio")
    serve.add_argument("--host", default="127.0.0.1", help="address for --http (127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port for --http (8000)")
    _state_dir(serve, "where to save the server's run")
    viz.add_parser(commands)
    return parser


def _state_dir(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "--state-dir",
        default=DEFAULT_STATE_DIR,
        metavar="DIR",
        help=f"{what} (default: {DEFAULT_STATE_DIR})",
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    from ..errors import RCError

    args = _parser().parse_args(argv)
    try:
        if args.command == "demo":
            from .demo import run_demo

            return run_demo(model=args.model, state_dir=args.state_dir, viz=args.viz, ask=args.ask)
        if args.command == "mcp":
            from .mcp_serve import serve_target

            return serve_target(args.target, args.http, args.host, args.port, args.state_dir)
        if args.command == "viz":
            return viz.run_viz(args)
        from . import runs

        if args.command == "runs":
            return runs.list_runs(args.state_dir)
        return runs.show_run(args.run, args.state_dir)
    except (RCError, OSError) as error:
        return fail(error)
    except KeyboardInterrupt:
        print("requestcompletion: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # a bug of ours: one line and a way to report it, no traceback
        if args.command == "demo":
            raise  # the demo runs user-facing code whose traceback is the useful report
        return fail(f"internal error ({type(error).__name__}: {error}); please report it")


def fail(error: BaseException | str) -> int:
    """Print `error` as one line on stderr; return the exit code for it."""
    text = error if isinstance(error, str) else str(error) or type(error).__name__
    print(f"requestcompletion: error: {escape_controls(' '.join(text.split()))}", file=sys.stderr)
    return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
