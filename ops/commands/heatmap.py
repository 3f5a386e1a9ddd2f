from ops.cli import CommandTree

def register(tree: CommandTree) -> None:
    pass
