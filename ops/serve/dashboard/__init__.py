"""The store dashboard's pages: HTML shells served by `footfall serve` over assets built from npm packages."""
