# A tiny Redmine plugin for the checks of `cargo xtask test` (xtask/src/redmine/contract_checks.rs): it has an
# asset, and links it from every page, so that a check can see its CSS served after the plugin
# is unpacked into the plugins volume with old mtimes. Not part of any image.
Redmine::Plugin.register :dockerlab_probe do
  name 'dockerlab probe'
  author 'dockerlab'
  description 'Links one stylesheet of its own from every page (a test fixture)'
  version '1.0.0'
end

# Every page's <head> links the plugin's stylesheet, by Redmine's own helper (the URL differs
# between Redmine 5, /plugin_assets/…, and 6, Propshaft's digested /assets/…).
class DockerlabProbeHook < Redmine::Hook::ViewListener
  def view_layouts_base_html_head(_context = {})
    stylesheet_link_tag('probe', plugin: 'dockerlab_probe')
  end
end
