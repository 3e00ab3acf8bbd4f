{% load i18n %}{% comment %}Inserts the progress widget's iframe right after the script tag that loads it.{% endcomment %}(function () {
  var script = document.currentScript;
  if (!script) { return; }
  var frame = document.createElement("iframe");
  frame.src = "{{ frame_url|escapejs }}";
  frame.title = "{% filter escapejs %}{% translate 'Letters taken' %}{% endfilter %}";
  frame.loading = "lazy";
  frame.style.cssText = "border:0;width:100%;max-width:28rem;height:{% if board %}34rem{% else %}12rem{% endif %};";
  script.parentNode.insertBefore(frame, script.nextSibling);
})();
