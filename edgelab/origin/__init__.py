"""The simulated origin: the site behind the CDN, with a capacity model that sheds like a real one."""
