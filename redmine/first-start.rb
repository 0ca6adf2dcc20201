# First start on a new database (`rails runner`, from dockerlab-entrypoint.sh), when Redmine's
# default data is not loaded yet: the built-in admin gets the password from
# REDMINE_ADMIN_PASSWORD(_FILE) and is not forced to change it at the first login; then the
# default data is loaded in REDMINE_LANG (default en). The password comes first: if the process
# dies in between, the next start does both again. On a database with data it changes nothing,
# so it is safe to run on any start.
if Redmine::DefaultData::Loader.no_data?
  password = ENV['REDMINE_ADMIN_PASSWORD'].to_s
  if password.empty?
    warn 'dockerlab: REDMINE_ADMIN_PASSWORD(_FILE) is not set: the admin keeps Redmine\'s default password'
  else
    admin = User.find_by!(login: 'admin')
    admin.password = admin.password_confirmation = password
    admin.must_change_passwd = false
    admin.save!
    puts 'dockerlab: the admin password is set'
  end
  language = ENV.fetch('REDMINE_LANG', 'en')
  Redmine::DefaultData::Loader.load(language)
  puts "dockerlab: default data loaded (#{language})"
else
  puts 'dockerlab: default data already there: nothing to set up'
end
