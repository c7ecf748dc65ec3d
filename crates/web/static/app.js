// Progressive enhancement only: every form works without this script.
(function(){
  var t;
  document.querySelectorAll('[data-curp-check]').forEach(function(input){
    var out = document.getElementById(input.getAttribute('data-curp-check'));
    input.addEventListener('input', function(){
      clearTimeout(t);
      t = setTimeout(function(){
        if (!input.value) { out.innerHTML = ''; return; }
        fetch('/ui/curp?curp=' + encodeURIComponent(input.value), {credentials: 'same-origin'})
          .then(function(r){ return r.ok ? r.text() : ''; })
          .then(function(html){ out.innerHTML = html; });
      }, 250);
    });
  });
  document.querySelectorAll('[data-print]').forEach(function(b){
    b.addEventListener('click', function(){ window.print(); });
  });
})();
