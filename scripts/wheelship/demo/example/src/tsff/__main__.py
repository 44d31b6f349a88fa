from tsff.cli import main

raise SystemExit(main())
