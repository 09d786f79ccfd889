"""The Service Desk: contacts (interactions) matched through the graph to the incidents already
open and the articles that answer them, service requests, incident queues, and what an incident
affects."""
