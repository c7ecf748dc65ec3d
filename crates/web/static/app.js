// Progressive enhancement only: every form works without this script.
(function(){
  function typeahead(attr, url, param){
    document.querySelectorAll('[' + attr + ']').forEach(function(input){
      var out = document.getElementById(input.getAttribute(attr)), t;
      input.addEventListener('input', function(){
        clearTimeout(t);
        t = setTimeout(function(){
          if (!input.value) { out.innerHTML = ''; return; }
          fetch(url + '?' + param + '=' + encodeURIComponent(input.value), {credentials: 'same-origin'})
            .then(function(r){ return r.ok ? r.text() : ''; })
            .then(function(html){ out.innerHTML = html; });
        }, 250);
      });
    });
  }
  typeahead('data-curp-check', '/ui/curp', 'curp');
  typeahead('data-cie10', '/ui/cie10', 'q');
  document.querySelectorAll('[data-print]').forEach(function(b){
    b.addEventListener('click', function(){ window.print(); });
  });
})();
