# A tiny Redmine plugin for the checks of `cargo xtask test` (xtask/src/redmine/): it brings one
# database migration, so that a check can see the entry point migrate a plugin built into the
# image, once, and the table survive down/up and a rebuild. Built only into the tests' images
# (PLUGINS=test-plugins).
Redmine::Plugin.register :dockerlab_notes do
  name 'dockerlab notes'
  author 'dockerlab'
  description 'Creates one table of its own (a test fixture)'
  version '1.0.0'
end
