# A tiny Redmine plugin for the checks of `cargo xtask test` (xtask/src/redmine/): it has an
# asset, and links it from every page, so that a check can see its CSS compiled into the image
# and served with its digest. Built only into the tests' images (PLUGINS=test-plugins).
Redmine::Plugin.register :dockerlab_probe do
  name 'dockerlab probe'
  author 'dockerlab'
  description 'Links one stylesheet of its own from every page (a test fixture)'
  version '1.0.0'
end

# Every page's <head> links the plugin's stylesheet, by Redmine's own helper (Propshaft's
# digested /assets/plugin_assets/… URL).
class DockerlabProbeHook < Redmine::Hook::ViewListener
  def view_layouts_base_html_head(_context = {})
    stylesheet_link_tag('probe', plugin: 'dockerlab_probe')
  end
end
