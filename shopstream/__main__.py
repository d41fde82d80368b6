from __future__ import annotations

from shopstream.cli import main

if __name__ == "__main__":
    main()
