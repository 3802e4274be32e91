set terminal svg size 920,440 dynamic font "sans,11"
set output "/work/main/bench/results/throughput.svg"
set title "Throughput (msgs, deliveries or handshakes per second; log scale)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set xtics rotate by -30 scale 0
set key top left
set grid ytics
set logscale y
plot "/work/main/bench/results/throughput.dat" using 2:xtic(1) title "Switchboard" lc rgb "#1f77b4", "" using 3 title "Node.js: socket.io / ws" lc rgb "#ff7f0e", "" using 4 title "Node.js: uWebSockets.js" lc rgb "#2ca02c", "" using 5 title "Node.js: raw uWS.js pub/sub" lc rgb "#98df8a"
