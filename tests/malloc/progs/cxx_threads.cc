#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>
int main() {
	std::vector<std::thread> ts;
	std::mutex mu;
	std::vector<std::unique_ptr<std::string>> shared;
	unsigned long total = 0;
	for (int t = 0; t < 8; t++)
		ts.emplace_back([&, t] {
			std::map<int, std::string> m;
			unsigned long sum = 0;
			for (int i = 0; i < 200000; i++) {
				m[i % 5000] = std::string(16 + (i * 7 + t) % 300, 'a' + t);
				if (i % 97 == 0) {
					std::lock_guard<std::mutex> g(mu);
					shared.push_back(std::make_unique<std::string>(m[i % 5000]));
					if (shared.size() > 1000) shared.erase(shared.begin(), shared.begin() + 500);
				}
			}
			for (auto &kv : m) sum += kv.second.size();
			std::lock_guard<std::mutex> g(mu);
			total += sum;
		});
	for (auto &t : ts) t.join();
	std::printf("total %lu shared %zu\n", total, shared.size());
	return 0;
}
